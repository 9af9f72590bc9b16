"""How FinMatch prints its figures: money, shares and scores, the same on every tab and in the insights."""


def money(value):
    return "n/a" if value is None else f"${value:,.2f}"


def compact_money(value):
    """Large totals in millions or thousands, so that they fit a card."""
    if value is None:
        return "n/a"
    for size, unit in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(value) >= size:
            return f"${value / size:,.2f}{unit}"
    return money(value)


def share(value):
    return "n/a" if value is None else f"{value:.1%}"


def score(value):
    return "n/a" if value is None else f"{value:.3f}"
