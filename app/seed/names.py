"""Vocabulary for synthetic records: UK-style names with hyphens, apostrophes and accents.

Every place, street and telephone number here is invented; telephone numbers come from the
ranges Ofcom reserves for drama (01632 960xxx, 07700 900xxx), so none reaches a real person.
"""

from __future__ import annotations

GIVEN_NAMES_FEMALE = (
    "Olivia Amelia Isla Ava Mia Ivy Lily Isabella Rosie Sophia Grace Willow Freya Florence Emily "
    "Ella Poppy Evie Elsie Charlotte Evelyn Sienna Sofia Daisy Phoebe Sophie Alice Harper Matilda "
    "Ruby Emilia Maya Millie Isabelle Eva Luna Jessica Aria Chloé Zoë Siân Aoife Niamh Saoirse "
    "Aisha Fatima Maryam Zainab Hafsa Amira Priya Ananya Aaliyah Imogen Nia Seren Eluned Anwen "
    "Mairéad Róisín Ayesha Hannah Leah Anaïs Renée Noémie Kaja Zuzanna Oluwaseun Chiamaka Adaeze"
).split()

GIVEN_NAMES_MALE = (
    "Muhammad Noah Oliver George Arthur Leo Harry Oscar Archie Henry Theodore Freddie Jack Charlie "
    "Theo Alfie Jacob Thomas Finley Arlo William Lucas Roman Tommy Isaac Teddy Alexander Luca "
    "Edward James Joshua Albie Elijah Max Mohammed Reggie Hudson Ethan Seán Eóin Ciarán Dylan "
    "Rhys Gethin Iolo Dafydd Aled Ibrahim Yusuf Ayaan Zayn Arjun Rohan Aarav Kwame Kofi Chidi "
    "Tobiasz Jakub Mateusz José Andrés Rubén Jérôme Loïc Björn Ömer Emre"
).split()

GIVEN_NAMES_ANY = ("Alex Jordan Riley Charlie Morgan Robin Sam Jamie Rowan Sasha Avery Quinn").split()

#: Family names with rough frequencies (the first ones much commoner, as in England).
FAMILY_NAMES = (
    "Smith Jones Williams Taylor Brown Davies Evans Wilson Thomas Johnson Roberts Robinson "
    "Thompson Wright Walker White Edwards Hughes Green Hall Lewis Harris Clarke Patel Jackson "
    "Wood Turner Martin Cooper Hill Ward Morris Moore Clark Lee King Baker Harrison Morgan Allen "
    "James Scott Phillips Watson Davis Parker Price Bennett Young Griffiths Mitchell Kelly Cook "
    "Carter Richardson Bailey Collins Bell Shaw Murphy Miller Cox Richards Khan Marshall Anderson "
    "Simpson Ellis Adams Singh Begum Wilkinson Foster Chapman Powell Webb Rogers Gray Mason Ali "
    "Hunt Hussain Campbell Matthews Owen Palmer Holmes Mills Barnes Knight Lloyd Butler Russell "
    "Barker Fisher Stevens Jenkins Murray Dixon Harvey Graham Pearson Ahmed Fletcher Walsh Kaur "
    "Gibson Howard Andrews Stewart Elliott Reynolds Saunders Payne Fox Ford Pearce Day Brooks "
    "West Lawrence Cole Atkinson Bradley Spencer Gill Dawson Ball Burton O'Brien Watts Rose Booth "
    "Perry Ryan Grant Wells Armstrong Francis Rees Hayes Hart Hudson Newman Barrett Webster Hunter "
    "Gregory Carr Lowe Page Marsh Riley Dunn Woods Parsons Berry Stone Reid Holland Hawkins Harding "
    "Porter Robertson Newton Oliver Reed Kennedy Williamson Bird Gardner Shah Dean Lane Cooke "
    "Bates Henderson Parry Burgess Bishop Walton Burns Nicholson Shepherd Ross Cross Long Freeman "
    "Warren Nicholls Hamilton Byrne Sutton McDonald Yates Hodgson Robson Curtis Hopkins O'Connor "
    "Harper Coleman Watkins Moss McCarthy Chambers O'Neill Griffin Sharp Hardy Wheeler Potter "
    "Osborne Johnston Gordon Doyle Wallace George Jordan Hutchinson Rowe Burke May Pritchard "
    "Gilbert Willis Higgins Read Miles Stevenson Stephenson Hammond Arnold Buckley Walters Hewitt "
    "Barber Nelson Slater Austin Sullivan Whitehead Mann Frost Lambert Stephens Blake Akhtar Lynch "
    "Goodwin Barton Woodward Thomson Cunningham Quinn Barnett Baxter Bibi Clayton Nash Greenwood "
    "Jennings Holt Kemp Poole Gallagher Bond Stokes Tucker Davidson Fowler Heath Norman Middleton "
    "Lawson Banks French Stanley Jarvis Gibbs Ferguson Hayward Carroll Douglas Dickinson Todd "
    "Barlow Peters Lucas Knowles Hartley Miah Simmons Morrison Ahmad Nowak Kowalski Wiśniewska "
    "Nguyen Tran Öztürk Yılmaz Ferreira D'Souza Fernandes Okafor Adeyemi Mensah Osei "
    "MacLeod Smith-Jones Taylor-Green Ward-Prowse Lloyd-Webber Bowes-Lyon "
    "Müller Schröder Dubois Lefèvre García Núñez Ibáñez"
).split() + ["Da Silva", "Ó Briain", "Ní Bhriain", "Ap Rhys", "Van der Berg", "De la Cruz"]

TOWNS = (
    "Ashcombe",
    "Bramley Cross",
    "Castlebrook",
    "Dunmere",
    "Eastwick",
    "Fernhill",
    "Greyford",
    "Hollowmead",
    "Ivybridge Vale",
    "Kingsmoor",
    "Larkfield",
    "Marlow Heath",
    "Northbridge",
    "Oakhampton",
    "Pennington",
    "Queensbury Green",
    "Redcliffe",
    "Stanmore Edge",
    "Thornbury",
    "Upperton",
    "Westholme",
    "Yarrow",
)

STREET_STEMS = (
    "Church Mill Station Victoria Park Green Manor Queens Kings Alexandra Grange Orchard Meadow "
    "Springfield Windsor Highfield Chapel Cedar Beech Willow Elm Oak Ash Rowan Hawthorn School "
    "Farm Bridge Brook Riverside Hillside Lime Holly Poplar Chestnut Albert"
).split() + ["St John's", "St Mary's"]

STREET_KINDS = ("Road", "Street", "Lane", "Close", "Avenue", "Drive", "Way", "Crescent", "Gardens")

AUTHORITY_STEMS = (
    "Northshire",
    "Eastmoor",
    "Westvale",
    "Southdown",
    "Midford",
    "Riverside",
    "Highcliff",
    "Lowmarsh",
    "Greenhithe",
    "Stonebridge",
)

SCHOOL_KINDS = ("Primary School", "Academy", "High School", "Infant School", "Junior School", "College")

SERVICE_NAMES: dict[str, tuple[str, ...]] = {
    "health_visiting": ("Health Visiting Team",),
    "school_nursing": ("School Nursing Service",),
    "social_care": ("Children's Social Care", "Children in Need Team", "Child Protection Team"),
    "early_help": ("Early Help Hub", "Family Support Service"),
    "youth_work": ("Youth Service", "Young People's Centre"),
    "youth_justice": ("Youth Justice Service",),
    "housing": ("Housing Options Team",),
    "education": ("Inclusion Service", "Educational Psychology Service", "SEND Team"),
    "sexual_health": ("Young People's Sexual Health Clinic",),
    "mental_health": ("Children and Young People's Mental Health Service",),
    "substance_misuse": ("Young People's Substance Misuse Service",),
}

ROLES: dict[str, tuple[str, ...]] = {
    "health_visiting": ("Health visitor",),
    "school_nursing": ("School nurse",),
    "social_care": ("Social worker", "Senior social worker"),
    "early_help": ("Family support worker", "Early help practitioner"),
    "youth_work": ("Youth worker",),
    "youth_justice": ("Youth justice officer",),
    "housing": ("Housing officer",),
    "education": ("Educational psychologist", "Inclusion officer", "SENCo"),
    "sexual_health": ("Sexual health nurse",),
    "mental_health": ("Mental health practitioner", "Clinical psychologist"),
    "substance_misuse": ("Substance misuse worker",),
}
