#!/usr/bin/env node
// Offline Solidity build: compiles every contracts/**/*.sol with the pinned npm `solc` (solcjs) through the
// standard-JSON interface and writes one artifact per contract into the Python package
// (operator/flalliance/chain/artifacts/<ContractName>.json), so the operator never needs a compiler.
//
// Why a script and not the `solcjs` CLI: the CLI prints a stray line and truncates piped output at ~64 KiB;
// here output goes through process.stdout.write and failures through process.exitCode.
//
// Every artifact records `source_sha256`: a sha256 over the compiler version, the compiler settings and
// the content of every source file in the contract's import closure (listed in `sources`). `--check`
// recomputes that hash from the files on disk without compiling (fast) and exits non-zero naming each
// stale, missing or orphaned artifact; `--verify` recompiles in memory and compares the artifacts byte for
// byte (slow, but also catches hand-edited artifacts).
//
// Usage: node contracts/compile.js [--check | --verify] [--out DIR]
"use strict";

const crypto = require("crypto");
const fs = require("fs");
const path = require("path");

const ROOT = path.resolve(__dirname, "..");
const CONTRACTS_DIR = path.join(ROOT, "contracts");
const NODE_MODULES = path.join(ROOT, "node_modules");
const DEFAULT_OUT = path.join(ROOT, "operator", "flalliance", "chain", "artifacts");
// Contracts only tests deploy (contracts/test/**) stay out of the package: their artifacts go here.
const TEST_SOURCES = "contracts/test/";
const TEST_OUT = path.join(ROOT, "tests", "contracts", "artifacts");
const SETTINGS_FILE = path.join(CONTRACTS_DIR, "solc-settings.json");
// Import prefixes resolved from node_modules (pinned in package-lock.json).
const NPM_PREFIXES = ["@openzeppelin/"];

function sha256(text) {
  return crypto.createHash("sha256").update(text).digest("hex");
}

// JSON with sorted object keys: the hash input must not depend on key insertion order.
function canonical(value) {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

function listSolFiles(dir) {
  const out = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === "node_modules" || entry.name.startsWith(".")) continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listSolFiles(full));
    else if (entry.isFile() && entry.name.endsWith(".sol")) out.push(full);
  }
  return out.sort();
}

// Source unit name (as solc sees it) -> file on disk. Project sources are named relative to the repo root
// ("contracts/FLTask.sol"); npm imports keep their package path ("@openzeppelin/contracts/...").
function resolveSourcePath(unitName) {
  if (NPM_PREFIXES.some((p) => unitName.startsWith(p))) return path.join(NODE_MODULES, unitName);
  const full = path.resolve(ROOT, unitName);
  if (!full.startsWith(CONTRACTS_DIR + path.sep)) throw new Error(`import outside contracts/: ${unitName}`);
  return full;
}

function readSource(unitName) {
  const file = resolveSourcePath(unitName);
  if (!fs.existsSync(file)) {
    const hint = unitName.startsWith("@") ? " (run `make setup` to install the npm packages)" : "";
    throw new Error(`source not found: ${unitName} -> ${path.relative(ROOT, file)}${hint}`);
  }
  return fs.readFileSync(file, "utf8");
}

function loadSettings() {
  const settings = JSON.parse(fs.readFileSync(SETTINGS_FILE, "utf8"));
  if (settings.evmVersion !== "prague") {
    // solc 0.8.37 defaults to osaka, whose opcodes anvil-compatible tooling (py-evm) rejects.
    throw new Error(`${path.relative(ROOT, SETTINGS_FILE)}: evmVersion must be "prague"`);
  }
  return settings;
}

// The pinned compiler version without loading the (slow) compiler itself: for --check.
function pinnedSolcVersion() {
  const pkg = path.join(NODE_MODULES, "solc", "package.json");
  if (!fs.existsSync(pkg)) throw new Error("npm package solc is missing (run `make setup`)");
  return JSON.parse(fs.readFileSync(pkg, "utf8")).version;
}

function loadSolc() {
  try {
    return require("solc");
  } catch (err) {
    throw new Error(`npm package solc is missing (run \`make setup\`): ${err.message}`);
  }
}

// The import closure of every source unit, from the ImportDirective nodes of solc's AST.
function importClosures(sourcesOut) {
  const direct = {};
  for (const [unit, out] of Object.entries(sourcesOut)) {
    direct[unit] = (out.ast.nodes || [])
      .filter((n) => n.nodeType === "ImportDirective")
      .map((n) => n.absolutePath);
  }
  const closures = {};
  for (const unit of Object.keys(direct)) {
    const seen = new Set([unit]);
    const stack = [unit];
    while (stack.length) {
      for (const dep of direct[stack.pop()] || []) {
        if (!seen.has(dep)) {
          seen.add(dep);
          stack.push(dep);
        }
      }
    }
    closures[unit] = [...seen].sort();
  }
  return closures;
}

function sourceHash(compilerVersion, settings, sourceHashes) {
  return sha256(canonical({ compiler: compilerVersion, settings, sources: sourceHashes }));
}

// Compiles everything; returns {fileName: artifactJsonText}. Throws on compiler errors.
function build() {
  const solc = loadSolc();
  const settings = loadSettings();
  const files = listSolFiles(CONTRACTS_DIR);
  if (files.length === 0) throw new Error("no .sol files under contracts/");
  const sources = {};
  for (const file of files) {
    const unit = path.relative(ROOT, file).split(path.sep).join("/");
    sources[unit] = { content: fs.readFileSync(file, "utf8") };
  }
  const input = {
    language: "Solidity",
    sources,
    settings: {
      ...settings,
      outputSelection: {
        "*": { "*": ["abi", "evm.bytecode.object", "evm.bytecode.linkReferences", "evm.deployedBytecode.object"], "": ["ast"] },
      },
    },
  };
  const contents = {};
  const findImports = (unit) => {
    try {
      const content = readSource(unit);
      contents[unit] = content;
      return { contents: content };
    } catch (err) {
      return { error: err.message };
    }
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
  const diagnostics = output.errors || [];
  for (const d of diagnostics) process.stderr.write(d.formattedMessage || `${d.severity}: ${d.message}\n`);
  if (diagnostics.some((d) => d.severity === "error")) throw new Error("compilation failed");
  for (const [unit, src] of Object.entries(sources)) contents[unit] = src.content;

  const version = solc.version();
  const closures = importClosures(output.sources);
  const artifacts = {};
  const origin = {};
  for (const [unit, byName] of Object.entries(output.contracts)) {
    if (!unit.startsWith("contracts/")) continue; // npm dependencies: no artifacts of their own
    const sourceHashes = {};
    for (const dep of closures[unit]) sourceHashes[dep] = sha256(contents[dep]);
    for (const [name, c] of Object.entries(byName)) {
      if (origin[name]) throw new Error(`contract name ${name} is defined twice: ${origin[name]} and ${unit}`);
      origin[name] = unit;
      if (Object.keys(c.evm.bytecode.linkReferences || {}).length) {
        throw new Error(`${unit}:${name} needs external library linking, which the build does not support`);
      }
      const artifact = {
        contract_name: name,
        source_path: unit,
        compiler: version,
        abi: c.abi,
        bytecode: c.evm.bytecode.object ? `0x${c.evm.bytecode.object}` : "0x",
        deployed_bytecode: c.evm.deployedBytecode.object ? `0x${c.evm.deployedBytecode.object}` : "0x",
        sources: sourceHashes,
        source_sha256: sourceHash(version, settings, sourceHashes),
      };
      const dir = unit.startsWith(TEST_SOURCES) ? "test" : "package";
      artifacts[`${dir}/${name}.json`] = `${JSON.stringify(artifact, null, 2)}\n`;
    }
  }
  return artifacts;
}

function existingArtifacts(outDir) {
  if (!fs.existsSync(outDir)) return [];
  return fs.readdirSync(outDir).filter((f) => f.endsWith(".json")).sort();
}

// The two output directories: the package's (what the operator deploys and calls) and the tests'.
function outDirs(outDir) {
  return { package: outDir, test: TEST_OUT };
}

// The artifacts of one output directory, keyed by file name.
function inDir(artifacts, dir) {
  const out = {};
  for (const [key, text] of Object.entries(artifacts)) {
    const [d, file] = key.split("/");
    if (d === dir) out[file] = text;
  }
  return out;
}

function write(outDir) {
  const all = build();
  for (const [dir, target] of Object.entries(outDirs(outDir))) {
    const artifacts = inDir(all, dir);
    fs.mkdirSync(target, { recursive: true });
    for (const stale of existingArtifacts(target)) {
      if (!(stale in artifacts)) {
        fs.unlinkSync(path.join(target, stale));
        process.stdout.write(`removed ${stale} (no such contract any more)\n`);
      }
    }
    let changed = 0;
    for (const [file, text] of Object.entries(artifacts)) {
      const where = path.join(target, file);
      if (fs.existsSync(where) && fs.readFileSync(where, "utf8") === text) continue;
      fs.writeFileSync(where, text);
      changed += 1;
    }
    const n = Object.keys(artifacts).length;
    process.stdout.write(`${n} artifacts in ${path.relative(ROOT, target)} (${changed} written)\n`);
  }
}

// Fast staleness check from the hashes recorded in the artifacts; no compiler run.
function check(outDir) {
  const problems = [];
  const settings = loadSettings();
  const pinned = pinnedSolcVersion();
  const covered = new Set();
  const files = Object.values(outDirs(outDir)).flatMap((d) => existingArtifacts(d).map((f) => path.join(d, f)));
  for (const where of files) {
    const file = path.relative(ROOT, where);
    let artifact;
    try {
      artifact = JSON.parse(fs.readFileSync(where, "utf8"));
    } catch (err) {
      problems.push(`${file}: unreadable (${err.message})`);
      continue;
    }
    const current = {};
    let missing = null;
    for (const unit of Object.keys(artifact.sources || {})) {
      try {
        current[unit] = sha256(readSource(unit));
        covered.add(unit);
      } catch (err) {
        missing = err.message;
      }
    }
    const expected = String(artifact.source_path || "").startsWith(TEST_SOURCES) ? TEST_OUT : outDir;
    if (path.dirname(where) !== expected) problems.push(`${file}: belongs in ${path.relative(ROOT, expected)}`);
    const version = String(artifact.compiler || "");
    if (missing) problems.push(`${file}: stale, ${missing}`);
    else if (!version.startsWith(`${pinned}+`)) problems.push(`${file}: stale, built by solc ${version}, pinned ${pinned}`);
    else if (sourceHash(version, settings, current) !== artifact.source_sha256) {
      const changed = Object.keys(current).filter((u) => current[u] !== artifact.sources[u]);
      const why = changed.length ? `changed: ${changed.join(", ")}` : "compiler settings changed";
      problems.push(`${file}: stale, ${why}`);
    }
  }
  for (const file of listSolFiles(CONTRACTS_DIR)) {
    const unit = path.relative(ROOT, file).split(path.sep).join("/");
    if (!covered.has(unit)) problems.push(`${unit}: no artifact is built from it (new file?)`);
  }
  return problems;
}

// Full check: recompile in memory and compare with the files on disk.
function verify(outDir) {
  const problems = [];
  const all = build();
  for (const [dir, target] of Object.entries(outDirs(outDir))) {
    const artifacts = inDir(all, dir);
    for (const [file, text] of Object.entries(artifacts)) {
      const where = path.join(target, file);
      if (!fs.existsSync(where)) problems.push(`${file}: missing`);
      else if (fs.readFileSync(where, "utf8") !== text) problems.push(`${file}: differs from a fresh build`);
    }
    for (const file of existingArtifacts(target)) {
      if (!(file in artifacts)) problems.push(`${file}: orphaned, no contract of that name in contracts/`);
    }
  }
  return problems;
}

function main(argv) {
  let mode = "write";
  let outDir = DEFAULT_OUT;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--check") mode = "check";
    else if (argv[i] === "--verify") mode = "verify";
    else if (argv[i] === "--out") outDir = path.resolve(argv[++i]);
    else throw new Error(`unknown argument ${argv[i]} (usage: compile.js [--check | --verify] [--out DIR])`);
  }
  if (mode === "write") return write(outDir);
  const problems = mode === "check" ? check(outDir) : verify(outDir);
  if (problems.length) {
    process.stderr.write(`contract artifacts are out of date (run \`make contracts\`):\n`);
    for (const p of problems) process.stderr.write(`  ${p}\n`);
    process.exitCode = 1;
  } else {
    process.stdout.write(`artifacts in ${path.relative(ROOT, outDir)} are up to date\n`);
  }
}

try {
  main(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`compile.js: ${err.message}\n`);
  process.exitCode = 1;
}
