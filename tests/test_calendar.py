"""Bars checked against exchange calendars, through the public API (`fancy_lib.data`), as a user meets them:
the bundled stocks are complete under their exchange's sessions, intraday stock bars have no gaps over
nights, weekends, holidays and early closes, and the calendars work with no network. The unit tests are in
nbs/01a_defects.ipynb and nbs/01c_data.ipynb."""
import socket

import numpy as np
import pandas as pd
import pytest

import exchange_calendars as xcals
from fancy_lib.data import OHLCV, SAMPLE_CALENDARS, DataError, load_bars, load_sample, validate_bars

# the oracle below calls exchange_calendars directly, which uses an API pandas 3.1 deprecates
pytestmark = pytest.mark.filterwarnings("ignore:Series.values returning an ndarray")


def bars_on(index: pd.DatetimeIndex) -> pd.DataFrame:
    "Flat bars (open = high = low = close = 10, volume 1) at the given open times."
    return pd.DataFrame(np.tile([10.0, 10.0, 10.0, 10.0, 1.0], (len(index), 1)), columns=list(OHLCV), index=index.rename("time"))


def xnys_grid(start: str, end: str, period: str = "30min") -> pd.DatetimeIndex:
    "exchange_calendars' own XNYS bar grid (bar open times, UTC): the oracle the checks must agree with."
    cal = xcals.get_calendar("XNYS", start=start, end=end)
    return cal.trading_index(start, end, period, intervals=True, force_close=True).left


def test_calendars_need_no_network(monkeypatch):
    def refuse(*a, **k): raise OSError("network is off in this test")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    grid = xnys_grid("1995-03-06", "1995-03-17")      # a window no other test asks for: computed here, from rules
    rep = validate_bars(bars_on(grid), calendar="XNYS")
    assert rep.ok and len(grid) == 10 * 13, rep.summary()


@pytest.mark.parametrize("name", ["AAPL_1d", "IBM_1d", "MSFT_1d", "GOOG_1d"])
def test_bundled_stocks_are_complete_under_their_exchange(name):
    bs = load_sample(name)
    assert bs.calendar == SAMPLE_CALENDARS[bs.symbol] and bs.calendar in ("XNYS", "XNAS")
    assert set(bs.report.counts()) <= {"jump"}, bs.report.summary()     # splits are jumps; no gap, no off_session
    under_xnys = validate_bars(bs.bars, freq="B", calendar="XNYS", source=name)
    assert not [i for i in under_xnys.issues if i.kind in ("gap", "off_session")]
    plain = load_sample(name, calendar=None).report.counts()["gap"]     # the business-day step: holidays are gaps
    assert plain == (77 if name == "GOOG_1d" else 118)


def test_crypto_keeps_the_step_check():
    assert SAMPLE_CALENDARS["BTCUSD"] is None
    bs = load_sample("BTCUSD_30m")
    assert bs.calendar is None and bs.report.counts() == {"gap": 9}
    assert validate_bars(bs.bars, calendar=None).issues == validate_bars(bs.bars).issues


def test_intraday_quarter_has_no_gaps_and_one_missing_bar_is_one_gap():
    grid = xnys_grid("2024-10-01", "2024-12-31")      # Thanksgiving, two 13:00 early closes, a DST change, 13 weekends
    bars = bars_on(grid)
    assert validate_bars(bars, calendar="XNYS").ok
    assert validate_bars(bars).counts() == {"gap": 63}  # without a calendar every night and weekend is a gap
    gone = pd.Timestamp("2024-12-24 12:30", tz="America/New_York")   # the last bar before Christmas Eve's early close
    rep = validate_bars(bars.drop(gone.tz_convert("UTC")), calendar="XNYS")
    assert [i.kind for i in rep.issues] == ["gap"]
    msg = rep.issues[0].message
    assert "the 30min bar at 2024-12-24 17:30:00+00:00 is missing" in msg and "XNYS session of 2024-12-24 (09:30–13:00" in msg, msg


def test_bars_on_a_holiday_or_after_the_close_are_off_session(tmp_path):
    grid = xnys_grid("2024-07-01", "2024-07-12").tz_convert("America/New_York")
    extra = pd.DatetimeIndex(["2024-07-04 10:00", "2024-07-03 13:30", "2024-07-08 16:30"], tz="America/New_York")
    f = tmp_path / "SPY_30m.csv"
    bars_on(grid.append(extra).sort_values()).tz_localize(None).to_csv(f)          # New York clock, no offsets
    bs = load_bars(f, tz="America/New_York", calendar="XNYS", policy="drop")
    off = [i for i in bs.report.issues if i.kind == "off_session"]
    assert set(bs.report.counts()) == {"off_session"} and len(off) == 3
    why = sorted(i.message.split("off the XNYS sessions: ")[1] for i in off)
    assert why == ["2024-07-04 is not a session (holiday: July 4th)",
                   "after the close (16:00 America/New_York) of the 2024-07-08 session",
                   "after the early close (13:00 America/New_York) of the 2024-07-03 session"]
    assert len(bs.bars) == len(grid) + 3 and "off-session bars are kept" in bs.report.actions[-1]


def test_a_bad_calendar_name_is_refused_with_a_suggestion():
    bars = bars_on(xnys_grid("2024-07-01", "2024-07-03"))
    with pytest.raises(DataError, match=r"calendar='XNYSE' is not an exchange calendar \(did you mean 'XNYS'\?\)"):
        validate_bars(bars, calendar="XNYSE")
    with pytest.raises(DataError, match="calendar='xnys'"):
        load_sample("AAPL_1d", calendar="xnys")
