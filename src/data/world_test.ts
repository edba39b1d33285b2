import { ConfigError } from "../errors.ts";
import { assert, assertEquals, assertNotEquals, assertThrows } from "../testing/asserts.ts";
import { Rng } from "../util/rng.ts";
import { COLOURS, DIETS, FRAMES, GOALS, HABITATS, SCRIPTS, SIZES, THINGS } from "./lexicon.ts";
import { deal, fillFrame, framePairs, generateWorld, indexWorld, sizeRank } from "./world.ts";

Deno.test("the same config and seed give the same world; another seed another", () => {
  assertEquals(generateWorld({}, 7), generateWorld({}, 7));
  assertNotEquals(generateWorld({}, 7).animals, generateWorld({}, 8).animals);
});

Deno.test("default world sizes follow the config", () => {
  const w = generateWorld({}, 0);
  assertEquals([w.animals.length, w.things.length, w.people.length], [48, 34, 24]); // every lexicon name
  assertEquals([w.scripts.length, w.events.length, w.goals.length], [12, 36, 7]);
  const small = generateWorld({ animals: 10, objects: 9, people: 4, scripts: 4, events: 6, goals: 3 }, 0);
  assertEquals([small.animals.length, small.things.length, small.people.length], [10, 9, 4]);
});

Deno.test("relations are consistent: pets distinct, owners are people, meat eaters hunt a smaller animal", () => {
  const w = generateWorld({}, 3);
  const ix = indexWorld(w);
  const pets = w.people.map((p) => p.pet);
  assertEquals(new Set(pets).size, pets.length);
  assert(pets.every((p) => ix.animal.has(p)));
  assert(w.things.every((t) => ix.person.has(t.owner) && THINGS[t.name].includes(t.material)));
  const hunters = w.animals.filter((a) => a.diet === "meat");
  assertEquals(hunters.length, 12); // a quarter of 48
  for (const a of w.animals) {
    if (a.diet !== "meat") {
      assertEquals(a.prey, null);
      continue;
    }
    const prey = ix.animal.get(a.prey!)!;
    assert(prey !== a);
    const anySmaller = w.animals.some((b) => sizeRank(b.size) < sizeRank(a.size));
    assert(!anySmaller || sizeRank(prey.size) < sizeRank(a.size), `${a.name} hunts a bigger ${prey.name}`);
  }
});

Deno.test("every rule holds for some animals and not for others", () => {
  const w = generateWorld({}, 0);
  assert(w.rules.length >= 10);
  assertEquals(new Set(w.rules.map((r) => r.label)).size, w.rules.length);
  for (const r of w.rules) {
    const n = w.animals.filter((a) => a[r.attribute] === r.value).length;
    assert(n > 0 && n < w.animals.length, `${r.attribute}=${r.value}`);
  }
});

Deno.test("every goal's working and failing materials are disjoint", () => {
  for (const g of GOALS) assert(g.ok.every((m) => !g.bad.includes(m)) && g.ok.length > 0 && g.bad.length > 0, g.id);
});

Deno.test("frame fillings agree with the world", () => {
  const w = generateWorld({}, 0);
  const ix = indexWorld(w);
  const fit = framePairs(w, FRAMES.find((f) => f.id === "fit")!);
  assert(fit.length > 0);
  for (const { a, b } of fit) assert(sizeRank(ix.thing.get(a)!.size) > sizeRank(ix.thing.get(b)!.size));
  const flee = framePairs(w, FRAMES.find((f) => f.id === "flee")!);
  for (const { a, b } of flee) assertEquals(ix.animal.get(b)!.prey, a);
  const give = framePairs(w, FRAMES.find((f) => f.id === "give")!);
  for (const { a, b, c } of give) assert(ix.thing.get(c!)!.owner === a && a !== b);
  assertEquals(
    fillFrame(FRAMES[0], { a: "box", b: "cup" }, 1),
    "the box did not fit in the cup because the _ was too small.",
  );
  assertEquals(
    fillFrame(FRAMES[0], { a: "box", b: "cup" }, 0, "box"),
    "the box did not fit in the cup because the box was too big.",
  );
});

Deno.test("bad world configs are one-line ConfigErrors naming the field", () => {
  assertThrows(
    () => generateWorld({ animals: 8, people: 9 }, 0),
    ConfigError,
    "world.people: must be at most world.animals",
  );
  assertThrows(() => generateWorld({ animals: 1000 }, 0), ConfigError, "world.animals");
  assertThrows(() => generateWorld({ colours: 3 } as never, 0), ConfigError, "unknown key 'colours'");
});

Deno.test("deal spreads values evenly, in random order", () => {
  const xs = deal(new Rng(1), ["a", "b", "c"], 8);
  assertEquals(xs.length, 8);
  assertEquals(["a", "b", "c"].map((v) => xs.filter((x) => x === v).length).sort(), [2, 3, 3]);
  assertNotEquals(deal(new Rng(2), ["a", "b", "c"], 8), xs);
});

Deno.test("attribute values are dealt evenly, so every value (and canonical position) occurs", () => {
  const w = generateWorld({}, 0);
  /** Dealing n items over k values gives each value ⌊n/k⌋ or ⌈n/k⌉. */
  const even = (ns: number[], n: number) =>
    ns.every((x) => x === Math.floor(n / ns.length) || x === Math.ceil(n / ns.length));
  const counts = (vs: readonly string[], of: (v: string) => number) => vs.map(of);
  const colours = counts(COLOURS, (c) => w.animals.filter((a) => a.colour === c).length);
  assert(even(colours, w.animals.length), `${colours}`); // 48 animals over 8 colours
  const habitats = counts(HABITATS, (h) => w.animals.filter((a) => a.habitat === h).length);
  assert(even(habitats, w.animals.length), `${habitats}`);
  const sizes = counts(SIZES, (s) => w.things.filter((t) => t.size === s).length);
  assert(even(sizes, w.things.length), `${sizes}`); // 34 things over 5 sizes
  const diets = counts(DIETS.slice(1), (d) => w.animals.filter((a) => a.diet === d).length);
  const plantEaters = w.animals.filter((a) => a.diet !== "meat").length;
  assert(even(diets, plantEaters), `${diets}`); // 36 non-meat animals over 5 diets
});

Deno.test("every script has five two-word steps (HellaSwag's canonical endings are steps 2-5)", () => {
  for (const s of SCRIPTS) {
    assertEquals(s.steps.length, 5, s.activity);
    assert(s.steps.every((x) => x.split(" ").length === 2), s.activity);
    assertEquals(new Set(s.steps).size, 5, s.activity);
  }
});
