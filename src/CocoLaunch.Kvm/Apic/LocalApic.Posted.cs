namespace CocoLaunch.Kvm;

/// <summary>
/// Interrupts from other threads: another vCPU's IPI, or a device's MSI raised while this APIC's vCPU runs. As with
/// posted interrupts (<c>vmx/posted_intr.c</c>: the PIR bitmap and its outstanding-notification bit), the sender only
/// sets bits; the APIC's own vCPU moves them into IRR before it next looks for an interrupt, so IRR, ISR and PPR are
/// only ever touched by that vCPU's thread. A halted vCPU that nothing else can wake waits here for a sender.
/// </summary>
public sealed partial class LocalApic
{
    private readonly uint[] pir = new uint[8], pirLevel = new uint[8];
    private readonly SemaphoreSlim notification = new(0, int.MaxValue);
    private int outstanding, postedNmi;

    /// <summary>The VM's APIC bus: where an IPI for other APICs goes. Null drops it, as in a VM with one vCPU.</summary>
    internal Action<LocalApic, uint, uint>? Bus { get; set; }

    /// <summary>Posts a fixed interrupt for this APIC's vCPU to accept; false when a disabled APIC or an illegal vector will drop it.</summary>
    public bool Post(int vector, bool levelTriggered)
    {
        Interlocked.Or(ref pir[vector >> 5], 1u << (vector & 31));
        if (levelTriggered)
        {
            Interlocked.Or(ref pirLevel[vector >> 5], 1u << (vector & 31));
        }

        Notify();
        return Enabled && vector >= 16;
    }

    /// <summary>Posts an NMI.</summary>
    public void PostNmi()
    {
        Volatile.Write(ref postedNmi, 1);
        Notify();
    }

    /// <summary>Wakes a vCPU waiting in <see cref="WaitForPosted"/> without posting anything (its run is being kicked).</summary>
    internal void Interrupt() => Release();

    /// <summary>On the APIC's own vCPU: accepts what was posted since it last looked.</summary>
    internal void SyncPosted()
    {
        if (Volatile.Read(ref outstanding) == 0 || Interlocked.Exchange(ref outstanding, 0) == 0)
        {
            return;
        }

        if (Interlocked.Exchange(ref postedNmi, 0) != 0)
        {
            NmiPending = true;
        }

        for (int i = 0; i < pir.Length; i++)
        {
            uint bits = Interlocked.Exchange(ref pir[i], 0);
            uint level = Interlocked.Exchange(ref pirLevel[i], 0);
            for (; bits != 0; bits &= bits - 1)
            {
                int bit = System.Numerics.BitOperations.TrailingZeroCount(bits);
                Accept((i * 32) + bit, (level & (1u << bit)) != 0);
            }
        }
    }

    /// <summary>
    /// On the APIC's own vCPU, halted: blocks until something is posted, <see cref="Interrupt"/> is called, or
    /// <paramref name="limit"/> has passed.
    /// </summary>
    internal void WaitForPosted(TimeSpan limit)
    {
        if (Volatile.Read(ref outstanding) == 0)
        {
            notification.Wait(limit);
        }

        while (notification.CurrentCount > 0 && notification.Wait(0))
        {
        }
    }

    private void Notify()
    {
        Volatile.Write(ref outstanding, 1);
        Release();
    }

    /// <summary>One waiting release is enough to wake the vCPU; a busy vCPU does not let releases pile up.</summary>
    private void Release()
    {
        if (notification.CurrentCount == 0)
        {
            notification.Release();
        }
    }
}
