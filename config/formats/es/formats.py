"""Spanish date formats of the pages and digests (the rest are Django's); times are Chicago time."""

DATE_FORMAT = r"j \d\e F \d\e Y"
SHORT_DATE_FORMAT = "j M Y"
MONTH_DAY_FORMAT = r"j \d\e F"
DATETIME_FORMAT = r"j \d\e F \d\e Y, H:i"
