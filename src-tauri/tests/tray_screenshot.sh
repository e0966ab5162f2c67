#!/usr/bin/env bash
# Takes a real screenshot of the tray app's open menu, for the README. Runs inside
# `dbus-run-session -- xvfb-run`: with no StatusNotifier host on the bus, the app's AppIndicator
# falls back to an XEmbed tray icon, which `trayer` (a small XEmbed tray) shows; a click opens the
# app's own GTK menu, and scrot captures the corner with the tray and the menu.
# Usage: tray_screenshot.sh OUT.png   (env: APP, CODEX_SHIM_PORT, and the app's settings env)
set -u
out=$1
deadline=$((SECONDS + 60))
trayer --edge top --align right --widthtype request --height 28 --transparent false \
  --SetDockType true --expand true >/dev/null 2>&1 &
"$APP" >"$out.app.log" 2>&1 &
app=$!
icon=""
until [ -n "$icon" ] && curl -sf "http://127.0.0.1:$CODEX_SHIM_PORT/health" >/dev/null; do
  [ $SECONDS -lt $deadline ] || { echo "no tray icon or no server"; exit 1; }
  sleep 0.1
  icon=$(xdotool search --class "tray-icon" 2>/dev/null | head -1)
done
eval "$(xdotool getwindowgeometry --shell "$icon")"
menu_open() { xwininfo -root -children | grep '("codex-shim-tray" "Codex-shim-tray")' | grep -vq ' 10x10+'; }
# The menu is rebuilt when what it shows changes (the status line does as the server comes up),
# which closes an open menu: click until one stays open across the capture.
shot=""
until [ -n "$shot" ]; do
  [ $SECONDS -lt $deadline ] || { echo "the menu did not open"; exit 1; }
  menu_open || xdotool mousemove $((X + WIDTH / 2)) $((Y + HEIGHT / 2)) click 1
  for _ in $(seq 1 20); do menu_open && break; sleep 0.05; done
  menu_open || continue
  geo=$(xwininfo -root -children | grep '("codex-shim-tray" "Codex-shim-tray")' | grep -v ' 10x10+' | grep -o '[0-9]*x[0-9]*+[0-9]*+[0-9]*' | head -1)
  scrot -o "$out.full.png" && menu_open && shot=$geo
done
# The corner holding the tray and the menu, with a margin.
read -r w h x y <<<"$(echo "$shot" | tr 'x+' '  ')"
left=$((x - 24)); [ $left -lt 0 ] && left=0
scrot -o -a "$left,0,$((1000 - left)),$((y + h + 24))" "$out" 2>/dev/null || cp "$out.full.png" "$out"
menu_open || echo "warning: the menu closed before the crop"
kill $app 2>/dev/null
wait $app 2>/dev/null
echo "menu $shot"
