import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { sharedDataDir } from "../core/data-dir.js";
import { evaluateNextItem } from "./evaluate-next-item.js";
import { applyProtocol, type ProtocolClick, parseProtocolFile, parseYoochoose } from "./protocol.js";
import { trainRecommender } from "./recommenders.js";
import { buildDataset } from "./session-dataset.js";

const DAY = 86400;
let order = 0;
const click = (sessionId: string, itemId: string, time: number): ProtocolClick => ({
  sessionId,
  itemId,
  time,
  fileOrder: order++,
});

describe("P1–P6", () => {
  // "h" is popular; "r" has 5 clicks only until P2 drops the one-click session 14.
  const clicks: ProtocolClick[] = [
    ...["10", "11", "12", "13"].flatMap((s, k) => [click(s, "h", k * 10 + 1), click(s, "r", k * 10)]),
    click("14", "r", 50), // a 1-click session: dropped by P2, so r ends with 4 clicks and is dropped by P3
    click("15", "h", 60),
    click("15", "h", 60), // equal times: file order decides (P1), repeats are kept
    click("20", "h", 10 * DAY),
    click("20", "h", 10 * DAY + 5),
    click("21", "h", 10 * DAY - 10),
    click("21", "z", 10 * DAY - 5), // z: test-only item, removed by P6, then session 21 has 1 click and goes
    click("9", "h", 10 * DAY - 3 * 3600), // sessions sort as integers: 9 before 10
    click("9", "h", 10 * DAY - 3 * 3600 + 1),
  ];
  const z = [1, 2, 3, 4].map((k) => click("30", "z", 10 * DAY - k * 100));
  const split = applyProtocol([...clicks, ...z], 1);

  it("drops short sessions and rare items in one pass, keeps repeats, splits on session end", () => {
    // 14 goes (P2), so r has 4 clicks and goes (P3), leaving 10–13 with one click: gone (P4).
    expect(split.train.map((s) => [s.id, s.items.join("")])).toEqual([["15", "hh"]]);
  });

  it("moves sessions ending in the last day to test, in sessionId (integer) order, without unseen items", () => {
    // z survives P3 (5 clicks) but never occurs in train: P6 removes it, dropping 21 (1 click left) and 30.
    expect(split.test.map((s) => [s.id, s.items.join("")])).toEqual([
      ["9", "hh"],
      ["20", "hh"],
    ]);
  });

  it("takes sessionEnd as the max click time after filtering", () => {
    expect(split.train[0]!.end).toBe(60);
  });
});

const root = sharedDataDir();
const rsc = root ? join(root, "sessions/rsc15-100k") : undefined;
const haveData = rsc !== undefined && existsSync(join(rsc, "yoochoose-clicks-100k_train_full.txt"));
if (!haveData) console.log("skipped rsc15-100k reference test: shared data not found (set LOOPWISE_DATA)");

describe.skipIf(!haveData)("rsc15-100k reference values (PROTOCOL.md)", () => {
  const read = (f: string) => readFileSync(join(rsc!, f), "utf8");

  it("P1–P6 from the raw files reproduce protocol_train/test.tsv", () => {
    const a = parseYoochoose(read("yoochoose-clicks-100k_train_full.txt"));
    const b = parseYoochoose(read("yoochoose-clicks-100k_test.txt"), a.length);
    const split = applyProtocol([...a, ...b], 1);
    expect(split.train).toEqual(parseProtocolFile(read("protocol_train.tsv")));
    expect(split.test).toEqual(parseProtocolFile(read("protocol_test.tsv")));
  });

  it.each([
    ["pop", 0.0899, 0.0265],
    ["spop", 0.3827, 0.2664],
    ["iknn", 0.3898, 0.1803],
  ])("%s gives HR@20 %s and MRR@20 %s on 10,102 events", (name, hr, mrr) => {
    const dataset = buildDataset(parseProtocolFile(read("protocol_train.tsv")));
    const m = evaluateNextItem(trainRecommender(name, dataset), parseProtocolFile(read("protocol_test.tsv")));
    expect(m.events).toBe(10102);
    expect(m["HR@20"].toFixed(4)).toBe(hr.toFixed(4));
    expect(m["MRR@20"].toFixed(4)).toBe(mrr.toFixed(4));
  });
});
