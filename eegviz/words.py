"""How counts are written in the lines a user reads ('1 marker', '3 markers', '2 classes').

One helper, because each summary line that counts wrote its own plural: the presenter's said "1 trials of 1
images", a session's "1 markers, 0 reconstructions", a dataset's "skipped 1 markers".
"""


def counted(n: int, one: str, many: str | None = None) -> str:
    """'1 image', '2 images'; `many` where the plural is not `one` + 's' ('class', 'classes')."""
    return f"{n} {one if n == 1 else (many or one + 's')}"
