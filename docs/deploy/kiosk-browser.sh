#!/bin/sh
# Fullscreen Chromium for the checkout tablet or kiosk: no error dialogs, no pinch zoom, no
# swipe-back, no "restore pages?" bubble, a profile of its own (it keeps a paired display's
# credential), and the result sounds play without a tap. Started by kiosk-browser.service.
# KIOSK_PRINTING=1 (with KIOSK_AUTO_PRINT=browser on the server): receipts print on the tablet's
# default printer without a print dialog (--kiosk-printing).
URL="${KIOSK_URL:-http://127.0.0.1:8000/}"
PROFILE="${KIOSK_BROWSER_PROFILE:-/var/lib/kiosk-browser}"
PRINTING=""
if [ "${KIOSK_PRINTING:-0}" = "1" ]; then
  PRINTING="--kiosk-printing"
fi
exec chromium \
  --kiosk "$URL" \
  --noerrdialogs \
  --disable-pinch \
  --overscroll-history-navigation=0 \
  --hide-crash-restore-bubble \
  --no-first-run \
  --disable-translate \
  --disable-features=TranslateUI \
  --check-for-update-interval=31536000 \
  --autoplay-policy=no-user-gesture-required \
  --user-data-dir="$PROFILE" \
  $PRINTING
