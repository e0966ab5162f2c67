// The real @electron/asar (pinned in tests/e2e) for tests/asar_roundtrip.rs.
//   node asar.cjs pack SRC OUT.asar        packs SRC, leaving *.node files unpacked
//   node asar.cjs check ARCHIVE.asar DEST  extracts, then checks every file's integrity block
// `check` prints one JSON report line.
const asar = require("@electron/asar");
const { getFileIntegrity } = require("@electron/asar/lib/integrity");
const fs = require("fs");
const path = require("path");

async function check(archive, dest) {
  asar.extractAll(archive, dest);
  const header = asar.getRawHeader(archive).header;
  const report = { files: 0, integrity_mismatches: [], executable: [], links: {}, unpacked: [] };
  async function walk(node, rel) {
    for (const [name, child] of Object.entries(node.files)) {
      const p = rel ? `${rel}/${name}` : name;
      if (child.files) {
        await walk(child, p);
      } else if (child.link) {
        report.links[p] = fs.readlinkSync(path.join(dest, p));
      } else {
        report.files++;
        if (child.executable) report.executable.push(p);
        if (child.unpacked) report.unpacked.push(p);
        // What Electron checks at run time: the file's integrity block against its bytes.
        const bytes = asar.extractFile(archive, p);
        const want = await getFileIntegrity(require("stream").Readable.from([bytes]));
        if (JSON.stringify(want) !== JSON.stringify(child.integrity)) report.integrity_mismatches.push(p);
      }
    }
  }
  await walk(header, "");
  console.log(JSON.stringify(report));
}

const [cmd, a, b] = process.argv.slice(2);
if (cmd === "pack") {
  asar.createPackageWithOptions(a, b, { unpack: "*.node" }).catch((e) => {
    console.error(e);
    process.exit(1);
  });
} else if (cmd === "check") {
  check(a, b).catch((e) => {
    console.error(e);
    process.exit(1);
  });
} else {
  console.error("usage: asar.cjs pack SRC OUT | check ARCHIVE DEST");
  process.exit(2);
}
