/**
 * Long synchronous work cut into slices that give the event loop a turn in between, so that
 * requests arriving while a batch is handed to Kafka are answered without waiting for all of it.
 *
 * A {@link LoopShare} is asked every few items whether its slice is used up ({@link LoopShare.due},
 * a clock read); when it is, the work awaits {@link LoopShare.turn} (a `setImmediate`: I/O callbacks
 * and timers that became due run first), then goes on with a fresh slice. The output does not
 * depend on where the slices end.
 *
 * A slice lasts {@link SLICE_MILLIS}, or as long as the turn before it took when that was longer:
 * the work gets at least half of the thread while it runs. Under full load a turn runs every
 * request that is waiting (a few ms each), and with slices of 1 ms a hand-off then took tens of
 * times its own CPU time, the exporter fell behind and the sending queue refused data; at low load
 * turns are short and so are the slices.
 */

/** Synchronous time a slice may take before the loop gets a turn, ms. */
export const SLICE_MILLIS = 1;

/** How many items a loop does between two looks at the clock (a power of two, minus one: a mask). */
export const CHECK_EVERY_MASK = 15;

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * When the last turn given by any {@link LoopShare} ended: one stretch of work may go through
 * several pieces (the records, then the Produce request), each with its own share, and the slice
 * is counted across them. When the loop turned by itself since (the work awaited I/O), the next
 * look finds the slice used up and gives one turn more than needed, which costs next to nothing.
 */
let sliceStart = performance.now();
/** How long the last turn took, ms: the least length of the next slice. */
let lastTurn = 0;

export class LoopShare {
  /** `sliceMillis`: time a slice may take; 0 yields at every look at the clock (tests). */
  constructor(private readonly sliceMillis: number = SLICE_MILLIS) {}

  /** Whether this slice's time is used up (the caller then awaits {@link turn}). */
  due(): boolean {
    const elapsed = performance.now() - sliceStart;
    return this.sliceMillis <= 0 || elapsed >= Math.max(this.sliceMillis, lastTurn);
  }

  /** Lets the event loop run what is waiting, then starts a new slice. */
  async turn(): Promise<void> {
    const before = performance.now();
    await nextTurn();
    sliceStart = performance.now();
    lastTurn = sliceStart - before;
  }
}

/** The options of the kafka exporter's sliced encoding (tests make slices small to cut everywhere). */
export const slicing = { sliceMillis: SLICE_MILLIS };
