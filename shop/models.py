from django.db import models


class RateLimitCounter(models.Model):
    """How many attempts one client made at one action in its current window (see shop.ratelimit).

    The key is a hash of the action and the client (an IP address or an e-mail
    address), so the table never holds either in clear.
    """

    key = models.CharField(max_length=64, primary_key=True)
    hits = models.PositiveIntegerField()
    window_ends = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.key[:12]}…: {self.hits} until {self.window_ends:%Y-%m-%d %H:%M:%S}"
