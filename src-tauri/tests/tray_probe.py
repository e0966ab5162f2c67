"""Drives the tray app the way a desktop's tray host would, over D-Bus.

It plays the StatusNotifierWatcher (no desktop runs in the test), waits for the app's
StatusNotifierItem, reads the menu over com.canonical.dbusmenu, clicks a model, checks that
config.toml names it and that the check mark moved, then clicks "Quit". Prints one JSON report.
Usage: tray_probe.py CONFIG_TOML SLUG [MODE]
MODE "main" (the default) is the above; "other-port" and "takeover" instead expect the app's port
to be held (by another program / another codex-shim), click the offer the menu makes, and wait
until the app serves.
"""
import asyncio, glob, json, os, subprocess, sys, time
from dbus_next.aio import MessageBus
from dbus_next.service import ServiceInterface, method, dbus_property, signal, PropertyAccess
from dbus_next import Message, MessageType, Variant

CONFIG, SLUG = sys.argv[1], sys.argv[2]
MODE = sys.argv[3] if len(sys.argv) > 3 else "main"


class Watcher(ServiceInterface):
    def __init__(self):
        super().__init__("org.kde.StatusNotifierWatcher")
        self.items, self.registered = [], asyncio.Event()

    @method()
    def RegisterStatusNotifierItem(self, service: "s"):
        self.items.append(service)
        self.registered.set()

    @method()
    def RegisterStatusNotifierHost(self, service: "s"):
        pass

    @dbus_property(access=PropertyAccess.READ)
    def RegisteredStatusNotifierItems(self) -> "as":
        return self.items

    @dbus_property(access=PropertyAccess.READ)
    def IsStatusNotifierHostRegistered(self) -> "b":
        return True

    @dbus_property(access=PropertyAccess.READ)
    def ProtocolVersion(self) -> "i":
        return 0

    @signal()
    def StatusNotifierItemRegistered(self) -> "s":
        return ""


async def call(bus, **kw):
    # A hung app (say, a deadlock on its main thread) fails the probe instead of stalling it.
    reply = await asyncio.wait_for(bus.call(Message(**kw)), 15)
    if reply.message_type == MessageType.ERROR:
        raise RuntimeError(f"{kw.get('member')}: {reply.error_name} {reply.body}")
    return reply.body


async def layout(bus, app, menu):
    body = await call(bus, destination=app, path=menu, interface="com.canonical.dbusmenu", member="GetLayout", signature="iias", body=[0, -1, []])
    items = []
    for child in body[1][2]:
        ident, props = child.value[0], child.value[1]
        items.append({"id": ident, "label": props.get("label", Variant("s", "")).value, "checked": props.get("toggle-state", Variant("i", -1)).value == 1})
    return items


async def click(bus, app, menu, match):
    """Clicks the item whose label satisfies `match`. The menu is rebuilt (with new ids) whenever
    what it shows changes, so the layout is read fresh and a click on a just-replaced id retried."""
    deadline = time.time() + 10
    while True:
        items = await layout(bus, app, menu)
        target = next((i for i in items if match(i["label"])), None)
        try:
            if target is None:
                raise RuntimeError(f"no such item in {[i['label'] for i in items]}")
            await call(bus, destination=app, path=menu, interface="com.canonical.dbusmenu", member="Event", signature="isvu", body=[target["id"], "clicked", Variant("i", 0), int(time.time())])
            return
        except RuntimeError:
            if time.time() > deadline:
                raise
            await asyncio.sleep(0.1)


async def main():
    report = {}
    bus = await MessageBus().connect()
    senders = []
    bus.add_message_handler(lambda m: senders.append(m.sender) if m.member == "RegisterStatusNotifierItem" else None)
    watcher = Watcher()
    bus.export("/StatusNotifierWatcher", watcher)
    await bus.request_name("org.kde.StatusNotifierWatcher")
    print("watcher ready", file=sys.stderr, flush=True)
    await asyncio.wait_for(watcher.registered.wait(), 90)
    app, item = senders[0], watcher.items[0]
    menu = (await call(bus, destination=app, path=item, interface="org.freedesktop.DBus.Properties", member="Get", signature="ss", body=["org.kde.StatusNotifierItem", "Menu"]))[0].value
    async def wait_for(pred, seconds=20):
        deadline = time.time() + seconds
        items = await layout(bus, app, menu)
        while not any(pred(i["label"]) for i in items) and time.time() < deadline:
            await asyncio.sleep(0.1)
            items = await layout(bus, app, menu)
        return items

    if MODE != "main":
        offer = "Serve on port" if MODE == "other-port" else "Take over port"
        items = await wait_for(lambda l: l.startswith(offer))
        report["before"] = [i["label"] for i in items]
        await click(bus, app, menu, lambda l: l.startswith(offer))
        items = await wait_for(lambda l: "serving on" in l)
        report["after"] = [i["label"] for i in items]
        report["config"] = open(CONFIG).read()
        await click(bus, app, menu, lambda l: l == "Quit")
        print(json.dumps(report), flush=True)
        return
    items = await wait_for(lambda l: "serving" in l)
    report["labels"] = [i["label"] for i in items]
    # The status line gains today's use from the ledger (read every few seconds).
    items = await wait_for(lambda l: "serving" in l and "today" in l)
    report["status_with_usage"] = next((i["label"] for i in items if "today" in i["label"]), None)
    # A second launch finds the running instance and leaves (it must not start a second server).
    try:
        second = subprocess.run([os.environ["APP"]], timeout=30, capture_output=True)
        report["second_instance_exit"] = second.returncode
    except subprocess.TimeoutExpired:
        report["second_instance_exit"] = "still running after 30 s"
    # Start at login: on, then off again ($HOME is the test's own).
    autostart = os.path.join(os.environ["HOME"], ".config", "autostart", "*.desktop")
    await click(bus, app, menu, lambda l: l == "Start at login")
    deadline = time.time() + 10
    while not glob.glob(autostart) and time.time() < deadline:
        await asyncio.sleep(0.05)
    report["autostart_files"] = [os.path.basename(f) for f in glob.glob(autostart)]
    report["autostart_exec"] = [l.strip() for f in glob.glob(autostart)
                                for l in open(f) if l.startswith("Exec=")]
    deadline = time.time() + 10
    items = await layout(bus, app, menu)
    while not any(i["checked"] for i in items if i["label"] == "Start at login") and time.time() < deadline:
        await asyncio.sleep(0.1)
        items = await layout(bus, app, menu)
    report["autostart_checked"] = any(i["checked"] for i in items if i["label"] == "Start at login")
    await click(bus, app, menu, lambda l: l == "Start at login")
    deadline = time.time() + 10
    while glob.glob(autostart) and time.time() < deadline:
        await asyncio.sleep(0.05)
    report["autostart_off"] = not glob.glob(autostart)
    await click(bus, app, menu, lambda l: f"({SLUG})" in l or l == SLUG)
    deadline = time.time() + 10
    while f'model = "{SLUG}"' not in open(CONFIG).read() and time.time() < deadline:
        await asyncio.sleep(0.05)
    report["switched"] = f'model = "{SLUG}"' in open(CONFIG).read()
    deadline = time.time() + 10
    items = await layout(bus, app, menu)
    while not any(i["checked"] and SLUG in i["label"] for i in items) and time.time() < deadline:
        await asyncio.sleep(0.1)
        items = await layout(bus, app, menu)
    report["checked"] = [i["label"] for i in items if i["checked"]]
    await click(bus, app, menu, lambda l: l == "Quit")
    report["quit_clicked"] = True
    print(json.dumps(report), flush=True)


asyncio.run(main())
