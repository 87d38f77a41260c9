using System.Runtime.InteropServices;

namespace CocoLaunch.Kvm.Mmu;

/// <summary>
/// KVM's mmu_lock as the TDP MMU uses it: faults hold it shared and run in parallel, invalidations hold it
/// exclusively. Readers count themselves in per-CPU-style stripes (like Linux's percpu-rwsem) so that vCPUs
/// faulting at the same time do not bounce one shared cache line between cores.
/// </summary>
internal sealed class MmuLock
{
    private const int Stripes = 64;
    private readonly Stripe[] readers = new Stripe[Stripes];
    private readonly object writerGate = new();
    private int writerActive;

    /// <summary>Readers currently waiting for a writer to finish (for tests that need a fault in flight).</summary>
    public int WaitingReadCount => Volatile.Read(ref waitingReaders);

    private int waitingReaders;

    public void EnterReadLock()
    {
        ref long count = ref readers[Environment.CurrentManagedThreadId % Stripes].Count;
        while (true)
        {
            Interlocked.Increment(ref count);
            if (Volatile.Read(ref writerActive) == 0)
            {
                return;
            }

            // A writer is in or waiting: step back out of its way and wait for it.
            Interlocked.Decrement(ref count);
            Interlocked.Increment(ref waitingReaders);
            lock (writerGate)
            {
                Interlocked.Decrement(ref waitingReaders);
            }
        }
    }

    public void ExitReadLock() => Interlocked.Decrement(ref readers[Environment.CurrentManagedThreadId % Stripes].Count);

    public void EnterWriteLock()
    {
        Monitor.Enter(writerGate);
        // A full fence, not a volatile write: the store must be visible before the reader counts are read, or a
        // reader that just counted itself in and saw no writer runs with the writer (a store-load reordering).
        Interlocked.Exchange(ref writerActive, 1);
        var spin = default(SpinWait);
        while (!Drained())
        {
            spin.SpinOnce();
        }
    }

    public void ExitWriteLock()
    {
        writerActive = 0;
        Monitor.Exit(writerGate);
    }

    private bool Drained()
    {
        for (int i = 0; i < Stripes; i++)
        {
            if (Volatile.Read(ref readers[i].Count) != 0)
            {
                return false;
            }
        }

        return true;
    }

    // One cache line per stripe, so two cores never share one.
    [StructLayout(LayoutKind.Explicit, Size = 128)]
    private struct Stripe
    {
        [FieldOffset(64)]
        public long Count;
    }
}
