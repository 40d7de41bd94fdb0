"""Receipts on paper: receipt.py (the layout, 32 or 48 columns), commands.py (ESC/POS: text in
the printer's code page, the cut), raster.py (right-to-left receipts as an image), address.py and
printers.py (where a receipt goes, and sending it), record.py and jobs.py (print jobs on the
kiosk's queue).
No Flask. Nothing is imported here: the settings read address.py without the rest."""
