"""English date formats of the pages and digests (the rest are Django's); times are Chicago time."""

DATE_FORMAT = "F j, Y"
SHORT_DATE_FORMAT = "M j, Y"
MONTH_DAY_FORMAT = "M j"
DATETIME_FORMAT = "M j, Y, g:i a"
