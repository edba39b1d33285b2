/**
 * The word pools the embedded world is drawn from: entity names, attribute values, goals (PIQA-like), social
 * events (SIQA-like), activity scripts (HellaSwag-like) and sentence frames (WinoGrande-like). Plain data, kept
 * small so the whole suite stays within a few hundred words; `world.ts` picks from them by seed.
 */

/** Space-separated words → list (keeps the pools compact). */
function words(text: string): readonly string[] {
  return text.split(" ");
}

export const ANIMALS: readonly string[] = words(
  "fox mouse bear wolf deer rabbit horse cow pig sheep goat cat dog lion tiger frog shark whale duck " +
    "owl eagle crow bee ant snake lizard turtle crab seal otter bat mole camel zebra monkey squirrel " +
    "beaver hawk swan goose hen moose badger hedgehog toad spider snail llama",
);

/** Objects with the materials each may plausibly be made of (the world picks one). */
export const THINGS: Readonly<Record<string, readonly Material[]>> = {
  cup: ["glass", "metal", "plastic", "paper"],
  box: ["wood", "paper", "metal", "plastic"],
  bag: ["cloth", "paper", "plastic"],
  ball: ["plastic", "cloth", "stone"],
  rope: ["cloth"],
  spoon: ["metal", "wood", "plastic"],
  plate: ["glass", "plastic", "paper", "stone"],
  bowl: ["wood", "glass", "stone", "metal"],
  chair: ["wood", "metal", "plastic"],
  table: ["wood", "stone", "metal", "glass"],
  lamp: ["glass", "metal"],
  book: ["paper"],
  hat: ["cloth", "paper"],
  coat: ["cloth"],
  jar: ["glass", "plastic", "stone"],
  bottle: ["glass", "plastic", "metal"],
  bucket: ["metal", "plastic", "wood"],
  basket: ["wood", "plastic"],
  brick: ["stone"],
  stick: ["wood"],
  mirror: ["glass"],
  blanket: ["cloth"],
  pillow: ["cloth"],
  pot: ["metal", "stone"],
  bell: ["metal", "glass"],
  tray: ["wood", "metal", "plastic"],
  fence: ["wood", "metal", "stone"],
  statue: ["stone", "metal", "wood"],
  card: ["paper"],
  boat: ["wood", "metal", "plastic"],
  sack: ["cloth", "paper", "plastic"],
  door: ["wood", "metal", "glass"],
  vase: ["glass", "stone", "plastic"],
  kite: ["paper", "cloth", "plastic"],
};

export const PEOPLE: readonly string[] = words(
  "anna ben carl dora emma finn gina hugo ida jack kate leo mia noah olga paul rosa sam tina vera will " +
    "zoe adam nina",
);

export const COLOURS = ["red", "blue", "green", "yellow", "black", "white", "brown", "grey"] as const;
/** Size classes, smallest first: "bigger than" compares positions in this list. */
export const SIZES = ["tiny", "small", "medium", "big", "huge"] as const;
export type Size = typeof SIZES[number];
export const HABITATS = ["forest", "river", "cave", "desert", "barn", "sea", "jungle", "field"] as const;
export const DIETS = ["meat", "grass", "fish", "seeds", "fruit", "insects"] as const;
export const MATERIALS = ["wood", "metal", "glass", "paper", "cloth", "stone", "plastic"] as const;
export type Material = typeof MATERIALS[number];
/** Labels that OBQA-like rules attach to a group of animals ("animals that eat meat are brave"). */
export const RULE_LABELS: readonly string[] = words(
  "brave gentle wild calm strong clever shy lazy busy noisy quiet lucky friendly fierce curious sleepy",
);

/** PIQA-like goals: the action template and which materials make it work (`ok`) or fail (`bad`). */
export interface GoalSpec {
  id: string;
  goal: string;
  solution: string;
  ok: readonly Material[];
  bad: readonly Material[];
}
export const GOALS: readonly GoalSpec[] = [
  {
    id: "fire",
    goal: "start a fire",
    solution: "burn the {x}",
    ok: ["paper", "wood", "cloth"],
    bad: ["stone", "metal", "glass"],
  },
  {
    id: "water",
    goal: "carry water",
    solution: "fill the {x} with water",
    ok: ["metal", "glass", "plastic"],
    bad: ["paper", "cloth"],
  },
  {
    id: "nut",
    goal: "crack a nut",
    solution: "hit the nut with the {x}",
    ok: ["stone", "metal"],
    bad: ["paper", "cloth", "plastic"],
  },
  {
    id: "look",
    goal: "look outside",
    solution: "look through the {x}",
    ok: ["glass"],
    bad: ["wood", "metal", "stone", "paper", "cloth"],
  },
  {
    id: "warm",
    goal: "keep warm",
    solution: "wrap up in the {x}",
    ok: ["cloth"],
    bad: ["stone", "metal", "glass", "wood"],
  },
  {
    id: "float",
    goal: "float on the pond",
    solution: "sit on the {x}",
    ok: ["wood", "plastic"],
    bad: ["stone", "metal", "glass"],
  },
  { id: "note", goal: "write a note", solution: "write on the {x}", ok: ["paper"], bad: ["glass", "metal", "cloth"] },
];

/**
 * SIQA-like events: `{p}` is the subject, `{q}` another person; the subject's feeling and what they want next.
 * Reactions come from two small shared pools (six feelings, six next wants), each used by several events, so a
 * held-out event's answer is also the answer of training events: fine-tuning can learn which label each
 * reaction takes, and a test question needs the event → reaction knowledge of pretraining. (With one reaction
 * per event, as in SIQA proper, a fact-disjoint test asks only reactions fine-tuning never showed, which needs
 * symbol binding the tiny base cannot learn: measured below chance.) `why` (a motive) is supported, unused.
 */
export interface EventSpec {
  id: string;
  text: string;
  feel?: string;
  why?: string;
  next?: string;
}
export const EVENTS: readonly EventSpec[] = [
  { id: "gift", text: "{p} got a gift from {q}", feel: "happy", next: "say thanks" },
  { id: "coin", text: "{p} found a coin in the park", feel: "happy", next: "tell a friend" },
  { id: "party", text: "{p} danced at the party", feel: "happy", next: "go to bed" },
  { id: "fair", text: "{p} won a cake at the fair", feel: "happy", next: "eat a snack" },
  { id: "hug", text: "{p} got a hug from {q}", feel: "happy", next: "say thanks" },
  { id: "rainbow", text: "{p} saw a rainbow", feel: "happy", next: "tell a friend" },
  { id: "key", text: "{p} lost the key", feel: "sad", next: "tell a friend" },
  { id: "bus", text: "{p} missed the bus", feel: "sad", next: "go to bed" },
  { id: "ice", text: "{p} dropped the ice cream", feel: "sad", next: "eat a snack" },
  { id: "game", text: "{p} lost the game", feel: "sad", next: "go to bed" },
  { id: "pet", text: "{p} could not find the cat", feel: "sad", next: "tell a friend" },
  { id: "left", text: "{p} was left out by {q}", feel: "sad", next: "shout" },
  { id: "snake", text: "{p} saw a snake in the grass", feel: "scared", next: "run away" },
  { id: "noise", text: "{p} heard a noise in the dark", feel: "scared", next: "run away" },
  { id: "bear", text: "{p} met a bear in the forest", feel: "scared", next: "run away" },
  { id: "city", text: "{p} got lost in the city", feel: "scared", next: "tell a friend" },
  { id: "spider", text: "{p} saw a spider on the bed", feel: "scared", next: "run away" },
  { id: "night", text: "{p} walked home alone at night", feel: "scared", next: "go to bed" },
  { id: "push", text: "{p} was pushed by {q}", feel: "angry", next: "shout" },
  { id: "bike", text: "{p} had the bike taken by {q}", feel: "angry", next: "shout" },
  { id: "lie", text: "{p} was lied to by {q}", feel: "angry", next: "shout" },
  { id: "wait", text: "{p} waited an hour for {q}", feel: "angry", next: "shout" },
  { id: "woken", text: "{p} was woken up by {q}", feel: "angry", next: "go to bed" },
  { id: "cake", text: "{p} found the cake eaten by {q}", feel: "angry", next: "eat a snack" },
  { id: "work", text: "{p} worked all day", feel: "tired", next: "go to bed" },
  { id: "run", text: "{p} ran ten miles", feel: "tired", next: "eat a snack" },
  { id: "boxes", text: "{p} carried the boxes for {q}", feel: "tired", next: "eat a snack" },
  { id: "clean", text: "{p} cleaned the whole house", feel: "tired", next: "go to bed" },
  { id: "late", text: "{p} stayed up all night", feel: "tired", next: "go to bed" },
  { id: "help", text: "{p} was helped home by {q}", feel: "tired", next: "say thanks" },
  { id: "race", text: "{p} won the race", feel: "proud", next: "tell a friend" },
  { id: "test", text: "{p} passed the test", feel: "proud", next: "tell a friend" },
  { id: "boat", text: "{p} built a boat", feel: "proud", next: "tell a friend" },
  { id: "prize", text: "{p} got a prize from {q}", feel: "proud", next: "say thanks" },
  { id: "praise", text: "{p} was praised by {q}", feel: "proud", next: "say thanks" },
  { id: "scare", text: "{p} chased the fox away from {q}", feel: "proud", next: "run away" },
];
export const EVENT_KINDS = ["feel", "why", "next"] as const;
export type EventKind = typeof EVENT_KINDS[number];

/**
 * HellaSwag-like activity scripts: an activity label and its five steps in order, each two words so the four
 * endings keep a question within the 64-token budget.
 */
export interface ScriptSpec {
  activity: string;
  steps: readonly string[];
}
export const SCRIPTS: readonly ScriptSpec[] = [
  { activity: "cooking", steps: ["chops onions", "heats oil", "fries onions", "adds salt", "serves dinner"] },
  { activity: "baking", steps: ["buys flour", "mixes dough", "shapes loaves", "bakes bread", "slices bread"] },
  { activity: "gardening", steps: ["digs soil", "plants seeds", "waters seeds", "pulls weeds", "picks flowers"] },
  { activity: "washing up", steps: ["runs water", "washes plates", "rinses plates", "dries plates", "stacks plates"] },
  { activity: "painting", steps: ["buys paint", "stirs paint", "paints walls", "cleans brushes", "hangs pictures"] },
  { activity: "fishing", steps: ["grabs bait", "baits hooks", "casts lines", "catches fish", "cooks fish"] },
  { activity: "camping", steps: ["packs bags", "hikes uphill", "pitches tents", "lights fires", "sleeps outside"] },
  { activity: "reading", steps: ["finds books", "opens books", "reads stories", "closes books", "returns books"] },
  {
    activity: "writing",
    steps: ["grabs paper", "writes letters", "folds letters", "seals envelopes", "posts letters"],
  },
  { activity: "cleaning", steps: ["opens windows", "sweeps floors", "mops floors", "dusts shelves", "empties bins"] },
  { activity: "morning", steps: ["wakes up", "brushes teeth", "eats breakfast", "gets dressed", "leaves home"] },
  {
    activity: "laundry",
    steps: ["sorts clothes", "washes clothes", "hangs clothes", "folds clothes", "irons clothes"],
  },
];

/**
 * WinoGrande-like twin sentences: `{a}`, `{b}` (and `{c}`, an object) are filled from the world; the blank `_`
 * refers to `a` under the first trigger and to `b` under the second. `pairs` names how the world picks them.
 */
export interface FrameSpec {
  id: string;
  text: string;
  triggers: readonly [string, string];
  pairs: "fit" | "lift" | "flee" | "catch" | "give" | "thank";
}
export const FRAMES: readonly FrameSpec[] = [
  {
    id: "fit",
    text: "the {a} did not fit in the {b} because the _ was too {t}.",
    triggers: ["big", "small"],
    pairs: "fit",
  },
  {
    id: "lift",
    text: "the {a} could not lift the {b} because the _ was too {t}.",
    triggers: ["weak", "heavy"],
    pairs: "lift",
  },
  {
    id: "flee",
    text: "the {a} ran away from the {b} because the _ was {t}.",
    triggers: ["scared", "dangerous"],
    pairs: "flee",
  },
  {
    id: "catch",
    text: "the {a} could not catch the {b} because the _ was too {t}.",
    triggers: ["slow", "fast"],
    pairs: "catch",
  },
  {
    id: "give",
    text: "{a} gave the {c} to {b} because _ {t}.",
    triggers: ["did not need it", "wanted it"],
    pairs: "give",
  },
  { id: "thank", text: "{a} thanked {b} because _ {t}.", triggers: ["was grateful", "had helped"], pairs: "thank" },
];
