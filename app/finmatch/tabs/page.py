"""What every tab is given: the page's data, the viewer's choices and what the page has computed already."""

from dataclasses import dataclass
from datetime import date

from finmatch.analysis.campaign import Campaigns
from finmatch.analysis.match import Matcher
from finmatch.data.breakdowns import Breakdowns
from finmatch.data.filters import Filters
from finmatch.data.fpr_data import FprData
from finmatch.privacy import Access


@dataclass(frozen=True)
class Page:
    data: FprData
    matcher: Matcher
    campaigns: Campaigns
    filters: Filters
    kpis: dict  # the selection's cards (FprData.kpis)
    access: Access  # whether this viewer may see customer data
    today: date
    options: dict  # every value of each filter column, and the dates (FprData.vocabulary)
    breakdowns: Breakdowns  # the selection's chart counts
    recent: dict = None  # KPIs of the two compared periods, None when there is no comparison
    before: dict = None
    trend_note: str = ""
