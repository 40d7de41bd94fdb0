"""The HTML side of the kiosk: the customer's screens, the displays', the cashier's console, the
operator's area and the probes, as blueprints; kiosk.app registers them. Who may call each route
is written once, in access.py."""
