"""The run history: one row per run of a maintenance task, however it was started."""

from django.db import models


class MaintenanceRun(models.Model):
    """One run of a cleanup: when, how it started, what it did and how it ended."""

    class Outcome(models.TextChoices):
        OK = "ok", "ok"
        PARTIAL = "partial", "partial (stopped before the end)"
        FAILED = "failed", "failed"
        # A beat run claims its entry's fire time before cleaning (maintenance/once.py).
        RUNNING = "running", "running (or its worker died mid-run)"
        DUPLICATE = "duplicate", "duplicate (this fire time was already run; nothing done)"

    class Origin(models.TextChoices):
        BEAT = "beat", "beat schedule"
        TASK = "task", "task call (celery call, delay, Flower)"
        COMMAND = "command", "direct call (management command, shell)"

    task = models.CharField(max_length=200)
    origin = models.CharField(max_length=16, choices=Origin.choices)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    dry_run = models.BooleanField(default=False)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    summary = models.JSONField(null=True, blank=True)  # null when the run raised
    error = models.TextField(blank=True)
    # Beat runs only (empty / null otherwise): which entry and which of its fire times this
    # run is for, and the Celery task id that claimed it (its redelivery may take it over).
    beat_entry = models.CharField(max_length=200, blank=True, default="")
    fire_time = models.DateTimeField(null=True, blank=True)
    task_id = models.CharField(max_length=255, blank=True, default="")

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [
            # "The last successful run of each task" (health check).
            models.Index(
                fields=["task", "outcome", "dry_run", "-finished_at"],
                name="maint_run_last_success",
            ),
            # Pruning by age.
            models.Index(fields=["finished_at"], name="maint_run_finished_at"),
        ]
        constraints = [
            # Exactly one run per beat entry and fire time, even when two beats send it:
            # the second copy's claim fails here, atomically, and it is recorded as duplicate.
            models.UniqueConstraint(
                fields=["beat_entry", "fire_time"],
                condition=models.Q(fire_time__isnull=False) & ~models.Q(outcome="duplicate"),
                name="maint_run_once_per_fire_time",
            ),
        ]

    def __str__(self) -> str:
        dry = " (dry run)" if self.dry_run else ""
        return f"{self.task} {self.started_at:%Y-%m-%d %H:%M:%S} {self.outcome}{dry}"


class PrunedRuns(models.Model):
    """How many real (not dry) runs of a task with an outcome the pruning has deleted.

    The metrics' run counters are history rows plus these, so they never go down when
    old rows are pruned (a Prometheus counter that drops reads as a reset).
    """

    task = models.CharField(max_length=200)
    outcome = models.CharField(max_length=16, choices=MaintenanceRun.Outcome.choices)
    runs = models.PositiveBigIntegerField(default=0)

    class Meta:
        verbose_name_plural = "pruned runs"
        constraints = [
            models.UniqueConstraint(fields=["task", "outcome"], name="maint_pruned_task_outcome")
        ]

    def __str__(self) -> str:
        return f"{self.task} {self.outcome}: {self.runs} pruned"
