// Reads one image with @trustnxt/c2pa-ts (pure TypeScript, independent of c2pa-rs) and prints
// one JSON document: whether its manifest store's hashes and signatures validate. This library
// checks no chain of trust: trust is the Python side's job (read_manifest).
import * as fs from 'node:fs/promises';
import { JPEG, PNG } from '@trustnxt/c2pa-ts/asset';
import { SuperBox } from '@trustnxt/c2pa-ts/jumbf';
import { ManifestStore, ValidationResult } from '@trustnxt/c2pa-ts/manifest';

const path = process.argv[2];
if (!path) {
    console.error('usage: node verify.mjs FILE');
    process.exit(2);
}
const data = new Uint8Array(await fs.readFile(path));
const formats = { jpeg: JPEG, png: PNG };
const format = Object.keys(formats).find((name) => formats[name].canRead(data));
if (!format) {
    console.log(JSON.stringify({ path, format: null, valid: false, error: 'not a JPEG or PNG file' }));
    process.exit(1);
}
const asset = new formats[format](data);
const jumbf = asset.getManifestJUMBF();
if (!jumbf) {
    console.log(JSON.stringify({ path, format, manifest: false, valid: false, error: 'no manifest' }));
    process.exit(1);
}
let result;
let activeManifest = null;
let manifestCount = 0;
try {
    const store = ManifestStore.read(SuperBox.fromBuffer(jumbf));
    manifestCount = store.manifests.length;
    activeManifest = store.getActiveManifest()?.label ?? null;
    result = await store.validate(asset);
} catch (error) {
    result = ValidationResult.fromError(error);
}
const entries = result.statusEntries.map(({ code, url, success }) => ({ code, url: url ?? null, success: success !== false }));
console.log(
    JSON.stringify({
        path,
        format,
        manifest: true,
        active_manifest: activeManifest,
        manifests: manifestCount,
        valid: result.isValid,
        codes: [...new Set(entries.map((entry) => entry.code))],
        failures: entries.filter((entry) => !entry.success),
    }),
);
process.exit(result.isValid ? 0 : 1);
