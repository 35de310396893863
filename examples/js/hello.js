// A JavaScript program as a wasi:cli/command component (componentize-js): console output,
// computation, JSON and an exception caught.
export const run = {
  run() {
    console.log("hello from javascript");
    const squares = [0, 1, 2, 3, 4, 5].map((i) => i * i);
    console.log(JSON.stringify({ sum: squares.reduce((a, b) => a + b, 0), squares }));
    try {
      null.property;
    } catch (e) {
      console.log("caught:", e.constructor.name);
    }
    console.error("to stderr");
  },
};
