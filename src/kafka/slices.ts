/**
 * Long synchronous work cut into slices that give the event loop a turn in between, so that
 * requests arriving while a batch is handed to Kafka are answered without waiting for all of it.
 *
 * A {@link LoopShare} is asked every few items whether its slice is used up ({@link LoopShare.due},
 * a clock read); when it is, the work awaits {@link LoopShare.turn} (a `setImmediate`: I/O callbacks
 * and timers that became due run first), then goes on with a fresh slice. The output does not
 * depend on where the slices end.
 *
 * A slice lasts {@link SLICE_MILLIS}. When the event loop is saturated (busy at least
 * {@link SATURATED_UTILIZATION} of the last {@link LOAD_WINDOW_MILLIS}, Node's event loop
 * utilization), a slice lasts as long as the turn before it took when that was longer: the work
 * then gets at least half of the thread while it runs. Under full load a turn runs every request
 * that is waiting (a few ms each), and with slices of 1 ms a hand-off then took tens of times its
 * own CPU time, the exporter fell behind and the sending queue refused data. Below saturation the
 * work has the loop's idle time to catch up in, and a slice as long as the turn before it would
 * only keep the next request waiting: after a turn that ran one request (or a garbage collection),
 * a request arriving during the long slice that followed waited that long before it was read.
 */

/** Synchronous time a slice may take before the loop gets a turn, ms. */
export const SLICE_MILLIS = 1;

/** Share of the last {@link LOAD_WINDOW_MILLIS} the event loop must have been busy for slices to grow with the turns. */
export const SATURATED_UTILIZATION = 0.9;

/** Window over which the event loop's utilization is measured, ms. */
export const LOAD_WINDOW_MILLIS = 500;

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
/** How long the last turn took, ms: the least length of the next slice while the loop is saturated. */
let lastTurn = 0;

/** Cumulative time the event loop spent busy and idle, ms (Node's `performance.eventLoopUtilization()`). */
export interface LoopTimes {
  active: number;
  idle: number;
}

/**
 * Whether the event loop was saturated over its last window. Measured at turns, so only while
 * sliced work runs; a window spans at least `windowMillis` (longer after a quiet spell, and then
 * the quiet counts). Starts saturated: until a window has passed, slices keep to the rule that
 * cannot let the work fall behind.
 */
export class LoopLoad {
  saturated = true;
  private mark: LoopTimes;
  private markedAt: number;

  constructor(
    private readonly times: () => LoopTimes = () => performance.eventLoopUtilization(),
    private readonly windowMillis = LOAD_WINDOW_MILLIS,
    private readonly threshold = SATURATED_UTILIZATION,
  ) {
    this.mark = times();
    this.markedAt = performance.now();
  }

  /** Closes the window when it has lasted `windowMillis` at `now` (`performance.now()`, ms). */
  update(now: number): void {
    if (now - this.markedAt < this.windowMillis) return;
    const t = this.times();
    const active = t.active - this.mark.active;
    const idle = t.idle - this.mark.idle;
    if (active + idle > 0) this.saturated = active / (active + idle) >= this.threshold;
    this.mark = t;
    this.markedAt = now;
  }
}

/** The load every {@link LoopShare} goes by unless given its own. */
const loopLoad = new LoopLoad();

export class LoopShare {
  /**
   * `sliceMillis`: time a slice may take; 0 yields at every look at the clock (tests). `load`:
   * whether the loop is saturated (default: this process's event loop).
   */
  constructor(
    private readonly sliceMillis: number = SLICE_MILLIS,
    private readonly load: LoopLoad = loopLoad,
  ) {}

  /** Whether this slice's time is used up (the caller then awaits {@link turn}). */
  due(): boolean {
    const elapsed = performance.now() - sliceStart;
    return this.sliceMillis <= 0 || elapsed >= (this.load.saturated ? Math.max(this.sliceMillis, lastTurn) : this.sliceMillis);
  }

  /** Lets the event loop run what is waiting, then starts a new slice. */
  async turn(): Promise<void> {
    const before = performance.now();
    await nextTurn();
    sliceStart = performance.now();
    lastTurn = sliceStart - before;
    this.load.update(sliceStart);
  }
}

/** The options of the kafka exporter's sliced encoding (tests make slices small to cut everywhere). */
export const slicing = { sliceMillis: SLICE_MILLIS };
