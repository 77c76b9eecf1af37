"""The project's settings, plus the one thing the topology tests change (DJANGO_SETTINGS_MODULE).

Beat sleeps until its next fire time, up to `beat_max_loop_interval` (Celery's default:
300 s) of real time. The tests' fake clock jumps ahead by hours; waking every second, beat
notices a jump within a second instead of five minutes. Nothing else differs.
"""

from config.settings import *  # noqa: F403

CELERY_BEAT_MAX_LOOP_INTERVAL = 1
