// The workload for `js N`: deterministic, no Math.random, no Date, only sqrt among the
// Math functions (correctly rounded everywhere, so every engine build prints the same).

class Vec {
  constructor(x, y, z) { this.x = x; this.y = y; this.z = z; }
  add(o) { return new Vec(this.x + o.x, this.y + o.y, this.z + o.z); }
  sub(o) { return new Vec(this.x - o.x, this.y - o.y, this.z - o.z); }
  scale(k) { return new Vec(this.x * k, this.y * k, this.z * k); }
  dot(o) { return this.x * o.x + this.y * o.y + this.z * o.z; }
  norm() { const l = Math.sqrt(this.dot(this)); return this.scale(1 / l); }
}

class Sphere {
  constructor(center, radius, color, reflect) {
    this.center = center; this.radius = radius; this.color = color; this.reflect = reflect;
  }
  intersect(origin, dir) {
    const oc = origin.sub(this.center);
    const b = oc.dot(dir);
    const c = oc.dot(oc) - this.radius * this.radius;
    const disc = b * b - c;
    if (disc < 0) return -1;
    const s = Math.sqrt(disc);
    const t = -b - s;
    if (t > 1e-4) return t;
    const t2 = -b + s;
    return t2 > 1e-4 ? t2 : -1;
  }
}

function makeScene() {
  const spheres = [new Sphere(new Vec(0, -1000, 0), 999, new Vec(0.8, 0.8, 0.8), 0.1)];
  for (let i = 0; i < 7; i++) {
    for (let j = 0; j < 3; j++) {
      const x = (i - 3) * 0.9, z = 3 + j * 1.3;
      const col = new Vec(((i * 37 + j * 11) % 10) / 10, ((i * 13 + j * 29) % 10) / 10, ((i * 7 + j * 3) % 10) / 10);
      spheres.push(new Sphere(new Vec(x, -0.6 + ((i + j) % 3) * 0.2, z), 0.35 + (j % 2) * 0.1, col, ((i + j) % 4) / 5));
    }
  }
  return { spheres, light: new Vec(-5, 8, -3).norm() };
}

function trace(scene, origin, dir, depth) {
  let best = -1, hit = null;
  for (const s of scene.spheres) {
    const t = s.intersect(origin, dir);
    if (t > 0 && (best < 0 || t < best)) { best = t; hit = s; }
  }
  if (hit === null) {
    const k = 0.5 * (dir.y + 1);
    return new Vec(1 - 0.5 * k, 1 - 0.3 * k, 1);
  }
  const p = origin.add(dir.scale(best));
  const n = p.sub(hit.center).norm();
  let shade = Math.max(0, n.dot(scene.light));
  for (const s of scene.spheres) {
    if (s !== hit && s.intersect(p, scene.light) > 0) { shade *= 0.3; break; }
  }
  let col = hit.color.scale(0.15 + 0.85 * shade);
  if (depth < 3 && hit.reflect > 0) {
    const r = dir.sub(n.scale(2 * dir.dot(n)));
    col = col.scale(1 - hit.reflect).add(trace(scene, p, r, depth + 1).scale(hit.reflect));
  }
  return col;
}

function render(size) {
  const scene = makeScene();
  const eye = new Vec(0, 0.2, -2);
  const pixels = [];
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const dir = new Vec((x - size / 2) / size, (size / 2 - y) / size, 1).norm();
      const c = trace(scene, eye, dir, 0);
      pixels.push([c.x, c.y, c.z].map(v => Math.min(255, Math.floor(v * 255))));
    }
  }
  let sum = 0;
  pixels.forEach((p, i) => { sum = (sum * 31 + p[0] * 3 + p[1] * 5 + p[2] * 7 + i) % 1000000007; });
  return sum;
}

function records(count) {
  let seed = 12345;
  const next = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed; };
  const names = ["ada", "bob", "cyd", "dee", "eve", "fay", "gus", "hal"];
  const rows = [];
  for (let i = 0; i < count; i++) {
    rows.push({ id: i, name: names[next() % names.length] + (next() % 100), score: next() % 1000, tags: [next() % 5, next() % 7] });
  }
  rows.sort((a, b) => a.score - b.score || (a.name < b.name ? -1 : a.name > b.name ? 1 : a.id - b.id));
  const byName = new Map();
  for (const r of rows) {
    const key = r.name.slice(0, 3);
    const g = byName.get(key) || { n: 0, total: 0 };
    g.n++; g.total += r.score + r.tags.reduce((a, b) => a + b, 0);
    byName.set(key, g);
  }
  const top = rows.filter(r => r.tags[0] === 2).map(r => r.id).slice(0, 20);
  let acc = top.reduce((a, b) => a + b, 0);
  for (const [k, g] of [...byName.entries()].sort()) acc = (acc * 17 + g.n * 3 + g.total + k.charCodeAt(1)) % 1000000007;
  return acc;
}

function strings(count) {
  const parts = [];
  for (let i = 0; i < count; i++) parts.push(`item-${i}:${(i * 7919) % 1000}`);
  const text = parts.join(",");
  const counts = {};
  for (const p of text.split(",")) {
    const [name, val] = p.split(":");
    const bucket = "b" + (parseInt(val, 10) % 13);
    counts[bucket] = (counts[bucket] || 0) + name.length;
  }
  const keys = Object.keys(counts).sort();
  const joined = keys.map(k => k + "=" + counts[k]).join(";").toUpperCase();
  let h = 0;
  for (let i = 0; i < joined.length; i++) h = (h * 33 + joined.charCodeAt(i)) % 1000000007;
  return h + text.length + text.indexOf("item-" + (count >> 1) + ":");
}

const a = render(N);
const b = records(N * 40);
const c = strings(N * 60);
`js ${N}: render ${a} records ${b} strings ${c}`;
