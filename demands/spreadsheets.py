"""CSV cells that a spreadsheet cannot run: every CSV the product writes passes its cells through here.

A cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return is a formula to Excel, LibreOffice and
Google Sheets (CSV injection, OWASP), so it is written with a leading apostrophe, which spreadsheets show as
text and hide. A cell already starting with an apostrophe gets one more, so reading strips exactly one and
every value comes back as it was.
"""

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
ESCAPE = "'"


def csv_cell(value: object) -> str:
    text = "" if value is None else str(value)
    return ESCAPE + text if text.startswith((*FORMULA_STARTS, ESCAPE)) else text


def csv_cell_read(text: str) -> str:
    """The value `csv_cell` wrote; a cell that is not escaped (a roster typed by hand) is read as it is."""
    if text.startswith(ESCAPE) and text[1:2] and text[1:].startswith((*FORMULA_STARTS, ESCAPE)):
        return text[1:]
    return text
