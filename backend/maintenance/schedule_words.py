"""A beat entry's schedule in words, in English or Russian, by cron-descriptor.

Glue only, for two gaps: Celery's crontab keeps sets, not a cron string, and cron-descriptor
takes day and month names from the process's locale (`calendar`), which a web process cannot
switch per call; so the Russian names are put in here, in the case its "в {0}" needs.
"""

import calendar
import re

from celery.schedules import crontab, schedule
from cron_descriptor import ExpressionDescriptor, Options

from maintenance.schedules import EntrySchedule, as_schedule

LANGUAGES = {"en": "en_US", "ru": "ru_RU"}
_EVERY = {"en": "every {} s", "ru": "каждые {} с"}
# calendar.day_name starts on Monday; the accusative ("только в среду").
_RU_DAYS = ("понедельник", "вторник", "среду", "четверг", "пятницу", "субботу", "воскресенье")
# The prepositional ("только в январе").
_RU_MONTHS = ("январе", "феврале", "марте", "апреле", "мае", "июне")
_RU_MONTHS += ("июле", "августе", "сентябре", "октябре", "ноябре", "декабре")


def cron_string(cron: crontab) -> str:
    """The five cron fields of a Celery crontab: '0 3 * * 0'."""
    fields = [
        (cron.minute, 60),
        (cron.hour, 24),
        (cron.day_of_month, 31),
        (cron.month_of_year, 12),
        (cron.day_of_week, 7),
    ]
    return " ".join(
        "*" if len(values) == size else ",".join(map(str, sorted(values)))
        for values, size in fields
    )


def _in_russian(text: str) -> str:
    names = dict(zip(calendar.day_name, _RU_DAYS, strict=True))
    names |= dict(zip(calendar.month_name[1:], _RU_MONTHS, strict=True))
    return re.sub(r"\b(" + "|".join(names) + r")\b", lambda m: names[m.group(1)], text)


def describe_schedule(entry_schedule: EntrySchedule, language: str = "en") -> str:
    """'At 03:00, only on Sunday (UTC, cron: 0 3 * * 0)'; an interval in seconds."""
    entry_schedule = as_schedule(entry_schedule)
    if type(entry_schedule) is schedule:
        return _EVERY[language].format(f"{entry_schedule.run_every.total_seconds():g}")
    if not isinstance(entry_schedule, crontab):
        return repr(entry_schedule)
    cron = cron_string(entry_schedule)
    options = Options(locale_code=LANGUAGES[language], use_24hour_time_format=True)
    words = ExpressionDescriptor(cron, options).get_description()
    if language == "ru":
        words = _in_russian(words)
    return f"{words} ({entry_schedule.tz}, cron: {cron})"
