// Runs every model of <dir>/cases.json (written by test_io "[onnx-files]") in ONNX Runtime and
// compares its logits with neuroplast's forward. Exit 0 when all agree, 1 otherwise.
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');

async function main() {
  const dir = process.argv[2];
  const cases = JSON.parse(fs.readFileSync(path.join(dir, 'cases.json'), 'utf8'));
  let passed = 0, failed = 0;
  for (const c of cases) {
    const session = await ort.InferenceSession.create(path.join(dir, c.model));
    const batch = c.input.length, features = c.input[0].length;
    const input = new ort.Tensor('float32', Float32Array.from(c.input.flat()), [batch, features]);
    if (session.inputNames[0] !== 'input' || session.outputNames[0] !== 'logits') {
      console.log(`${c.model}: inputs ${session.inputNames}, outputs ${session.outputNames}`);
      failed++;
      continue;
    }
    const out = (await session.run({input}))['logits'];
    const expected = c.expected.flat();
    const scale = Math.max(1, ...expected.map(Math.abs));
    let worst = 0;
    for (let i = 0; i < expected.length; i++)
      worst = Math.max(worst, Math.abs(out.data[i] - expected[i]) / scale);
    const shapeOk = out.dims.length === 2 && out.dims[0] === batch &&
                    out.dims[1] === c.expected[0].length;
    const ok = shapeOk && worst <= (c.tolerance ?? 1e-5);
    console.log(`${ok ? 'ok  ' : 'FAIL'} ${c.model}: shape [${out.dims}], max relative difference ${worst.toExponential(2)}`);
    if (ok) passed++; else failed++;
  }
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed === 0 && passed > 0 ? 0 : 1);
}
main().catch(e => { console.error(e); process.exit(1); });
