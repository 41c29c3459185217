"""Finding a child: the search form, its rules, its results, and the quotas that stop trawling."""
