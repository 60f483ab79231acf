"""Hand-written football-data.co.uk season files, in the shapes the site has served over the years.

Columns follow the site's notes (https://www.football-data.co.uk/notes.txt): ``Div,Date,(Time,)HomeTeam,
AwayTeam,FTHG,FTAG,FTR,HTHG,HTAG,HTR,...`` then match statistics and 1X2 odds per bookmaker; closing odds
(``B365CH``, ``PSCH``, ``AvgCH``, ...) from 2019/20 on, BetBrain max/average (``BbMxH``, ``BbAvH``) before.
Scores and odds are made up; team names are the site's spellings.
"""

from __future__ import annotations

from collections.abc import Sequence

PREMIER_LEAGUE = ("Arsenal", "Aston Villa", "Bournemouth", "Brighton", "Burnley", "Chelsea", "Crystal Palace",
                  "Everton", "Leicester", "Liverpool", "Man City", "Man United", "Newcastle", "Norwich",
                  "Sheffield United", "Southampton", "Tottenham", "Watford", "West Ham", "Wolves")  # fmt: skip
LA_LIGA = ("Alaves", "Ath Bilbao", "Ath Madrid", "Barcelona", "Betis", "Celta", "Eibar", "Espanol", "Getafe",
           "Granada", "Leganes", "Levante", "Mallorca", "Osasuna", "Real Madrid", "Sevilla", "Sociedad",
           "Valencia", "Valladolid", "Villarreal")  # fmt: skip

# Modern header (2019/20 on): kick-off time, statistics, pre-match and closing odds.
MODERN_HEADER = (
    "Div,Date,Time,HomeTeam,AwayTeam,FTHG,FTAG,FTR,HTHG,HTAG,HTR,Referee,HS,AS,HST,AST,HF,AF,HC,AC,HY,AY,HR,AR,"
    "B365H,B365D,B365A,BWH,BWD,BWA,IWH,IWD,IWA,PSH,PSD,PSA,WHH,WHD,WHA,VCH,VCD,VCA,MaxH,MaxD,MaxA,AvgH,AvgD,AvgA,"
    "B365>2.5,B365<2.5,P>2.5,P<2.5,Max>2.5,Max<2.5,Avg>2.5,Avg<2.5,AHh,B365AHH,B365AHA,PAHH,PAHA,MaxAHH,MaxAHA,"
    "AvgAHH,AvgAHA,B365CH,B365CD,B365CA,BWCH,BWCD,BWCA,IWCH,IWCD,IWCA,PSCH,PSCD,PSCA,WHCH,WHCD,WHCA,VCCH,VCCD,VCCA,"
    "MaxCH,MaxCD,MaxCA,AvgCH,AvgCD,AvgCA"
)
# Older header (up to 2018/19): no Time, no closing odds, BetBrain aggregates.
OLD_HEADER = (
    "Div,Date,HomeTeam,AwayTeam,FTHG,FTAG,FTR,HTHG,HTAG,HTR,Referee,HS,AS,HST,AST,HF,AF,HC,AC,HY,AY,HR,AR,"
    "B365H,B365D,B365A,BWH,BWD,BWA,IWH,IWD,IWA,PSH,PSD,PSA,WHH,WHD,WHA,VCH,VCD,VCA,Bb1X2,BbMxH,BbMxD,BbMxA,"
    "BbAvH,BbAvD,BbAvA"
)


def _fixtures(teams: Sequence[str], rounds: int) -> list[tuple[str, str]]:
    """A double round robin's first ``rounds`` rounds (circle method)."""
    names = list(teams)
    pairs = []
    for r in range(rounds):
        for i in range(len(names) // 2):
            home, away = names[i], names[-1 - i]
            pairs.append((home, away) if r % 2 == 0 else (away, home))
        names = [names[0], names[-1], *names[1:-1]]
    return pairs


def _odds(seed: int) -> tuple[float, float, float]:
    home = 1.5 + (seed * 37 % 50) / 10
    return round(home, 2), round(3.2 + (seed % 7) / 10, 2), round(max(1.2, 9.0 - home), 2)


def season(
    division: str = "E0",
    first_year: int = 2019,
    teams: Sequence[str] = PREMIER_LEAGUE,
    rounds: int = 38,
    *,
    modern: bool = True,
    four_digit_years: bool = True,
    decimal_scores: bool = False,
) -> str:
    """A season file as the site serves it (``rounds`` rounds of 10 matches, one round a week from August)."""
    import datetime as dt

    lines = [MODERN_HEADER if modern else OLD_HEADER]
    start = dt.date(first_year, 8, 10)
    for index, (home, away) in enumerate(_fixtures(teams, rounds)):
        day = start + dt.timedelta(days=7 * (index // (len(teams) // 2)) + index % 2)
        date = day.strftime("%d/%m/%Y" if four_digit_years else "%d/%m/%y")
        hg, ag = (index * 7) % 4, (index * 5) % 3
        result = "H" if hg > ag else "A" if hg < ag else "D"
        score = f"{hg}.0,{ag}.0" if decimal_scores else f"{hg},{ag}"
        stats = (
            f"{min(hg, 1)},{min(ag, 1)},{'H' if min(hg, 1) > min(ag, 1) else 'A' if min(hg, 1) < min(ag, 1) else 'D'}"
        )
        stats += ",M Oliver,12,9,5,3,10,11,6,4,1,2,0,0"
        h, d, a = _odds(index)
        book = f"{h},{d},{a}"
        if modern:
            pre = ",".join([book] * 8)
            extra = "1.9,1.9,1.95,1.95,2.0,2.0,1.9,1.9,-0.5,1.9,1.9,1.95,1.95,2.0,2.0,1.9,1.9"
            closing = ",".join([f"{round(h * 1.02, 2)},{d},{round(a * 0.98, 2)}"] * 8)
            lines.append(f"{division},{date},15:00,{home},{away},{score},{result},{stats},{pre},{extra},{closing}")
        else:
            pre = ",".join([book] * 6)
            lines.append(f"{division},{date},{home},{away},{score},{result},{stats},{pre},40,{book},{book}")
    return "\n".join(lines) + "\n"


def latin1_after_64k() -> bytes:
    """A wide La Liga season in cp1252 whose only non-ASCII byte ("á" of Málaga) comes after the first 64 KiB."""
    text = season("SP1", 2019, LA_LIGA, rounds=38)
    lines = text.splitlines()
    size, cut = 0, 0
    while size <= 70_000:
        size += len(lines[cut]) + 2
        cut += 1
    late = lines[cut].split(",")
    late[3] = "Málaga"  # the home team of a row past 64 KiB
    lines[cut] = ",".join(late)
    return ("\r\n".join(lines) + "\r\n").encode("cp1252")


def with_trailing_commas_and_blank_rows(text: str) -> str:
    """As many files on the site: the header and every row end in empty fields, blank rows of commas at the end."""
    lines = text.splitlines()
    width = lines[0].count(",") + 1
    return (
        "\n".join([lines[0] + ",,,", *(line + ",,," for line in lines[1:]), "," * (width + 2), "," * (width + 2)])
        + "\n"
    )


def concatenated(*texts: str) -> str:
    """Season files glued together with ``cat``: the header repeated inside the file."""
    return "".join(texts)
