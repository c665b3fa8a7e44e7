# The checkout's outside services (localstripe, the inventory API over HTTP) and its
# shop fixtures, for the security tests that place and pay for orders.
from tests.checkout.conftest import jumper, localstripe, outside, shipping, threaded_shop  # noqa: F401
