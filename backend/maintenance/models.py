"""The run history: one row per run of a maintenance task, however it was started."""

from django.db import models


class MaintenanceRun(models.Model):
    """One run of a cleanup: when, how it started, what it did and how it ended."""

    class Outcome(models.TextChoices):
        OK = "ok", "ok"
        PARTIAL = "partial", "partial (stopped before the end)"
        FAILED = "failed", "failed"

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
