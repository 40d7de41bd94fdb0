"""Where a sale came from (the export's `source` word), as staff read it on the X and Z reports,
on screen and on paper. Staff words: Turkish and English only (not in babel-customer.cfg)."""

from __future__ import annotations

from ..checkout.inputs import N_

SOURCE_WORDS = {
    "kiosk": N_("Keypad"), "display": N_("Display"), "console": N_("Cashier console"), "till": N_("Till API"),
}
