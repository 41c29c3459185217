"""Young people decide whether their record is kept past 18: invitations, the young person's
pages, consent receipts, withdrawal, and the retention engine that deletes everything else."""
