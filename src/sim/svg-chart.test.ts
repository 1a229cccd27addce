import { describe, expect, it } from "vitest";
import { lineChart, niceTicks } from "./svg-chart.js";

describe("lineChart", () => {
  it("draws one polyline per series with every point, a legend and escaped text", () => {
    const svg = lineChart({
      title: "a < b & c",
      xLabel: "x",
      yLabel: "y",
      series: [
        {
          name: "one",
          points: [
            [0, 0.1],
            [10, 0.2],
            [20, 0.15],
          ],
          color: "#f00",
        },
        {
          name: "two",
          points: [
            [0, 0.05],
            [20, 0.05],
          ],
          color: "#00f",
          dashed: true,
        },
      ],
    });
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg).toMatch(/^<svg [^>]*role="img"[^>]*>\n<title>a &lt; b &amp; c<\/title>/);
    expect(svg.match(/<polyline class="series"/g)).toHaveLength(2);
    expect(svg.match(/<circle /g)).toHaveLength(5);
    expect(svg).toContain("a &lt; b &amp; c");
    expect(svg).toContain("stroke-dasharray");
    expect(svg).not.toContain("NaN");
  });

  it("picks round ticks covering the range", () => {
    expect(niceTicks(0, 0.18, 6)).toEqual([0, 0.05, 0.1, 0.15, 0.2]);
    expect(niceTicks(250, 6000, 6)).toEqual([0, 2000, 4000, 6000]);
  });
});
