namespace CocoLaunch.Kvm;

/// <summary>
/// The APIC timer (SDM vol. 3 §11.5.4) as KVM runs it: one-shot and periodic modes count APIC bus cycles, which
/// KVM clocks at 1 GHz (APIC_BUS_CYCLE_NS_DEFAULT), and TSC-deadline mode fires when the TSC reaches
/// IA32_TSC_DEADLINE. Time is the vCPU's TSC, so a run is repeatable; the run loop stops the processor at
/// <see cref="TimerDeadline"/> and calls <see cref="Tick"/>.
/// </summary>
public sealed partial class LocalApic
{
    public const uint TscDeadlineMsr = 0x6E0;

    /// <summary>KVM's min_timer_period_us: a shorter periodic timer is stretched to 200 µs.</summary>
    public const ulong MinPeriodNanoseconds = 200_000;

    private const uint TimerModeMask = 3 << 17;
    private const int OneShot = 0, Periodic = 1, TscDeadlineMode = 2;

    private uint initialCount, divideConfig;
    private ulong? deadline;
    private ulong periodTicks, tscDeadline;

    public ulong TscKhz { get; }

    /// <summary>The TSC value at which the timer next fires, or null when it is not counting.</summary>
    public ulong? TimerDeadline => deadline;

    /// <summary>Whether the timer's firing would raise an interrupt (its LVT entry is not masked).</summary>
    public bool TimerUnmasked => (lvt[0] & LvtMasked) == 0;

    private int TimerMode => (int)((lvt[0] >> 17) & 3);

    /// <summary>Divide configuration bits 0, 1 and 3 → 2, 4, 8, 16, 32, 64, 128, or 1 for 0b1011.</summary>
    private ulong Divisor => 1UL << (int)((((divideConfig & 3) | ((divideConfig & 8) >> 1)) + 1) & 7);

    /// <summary>Fires the timer if the TSC has reached its deadline: the LVT vector, a periodic timer re-armed.</summary>
    public void Tick(ulong now)
    {
        if (deadline is not { } due || now < due)
        {
            return;
        }

        if (TimerUnmasked)
        {
            Accept((int)(lvt[0] & VectorMask), levelTriggered: false);
        }

        if (TimerMode == Periodic && periodTicks != 0)
        {
            // Ticks missed while the vCPU did not run coalesce into one IRR bit, as an interrupt that is already
            // pending does.
            ulong next = due + periodTicks;
            deadline = next > now ? next : now + periodTicks - ((now - due) % periodTicks);
        }
        else
        {
            deadline = null;
            tscDeadline = 0;
        }
    }

    private void WriteTimerLvt(uint value)
    {
        uint old = lvt[0];
        if ((svr & SvrEnabled) == 0)
        {
            value |= LvtMasked;
        }

        lvt[0] = value & (LvtMask | TimerModeMask);
        if ((old & TimerModeMask) != (lvt[0] & TimerModeMask))
        {
            // apic_update_lvtt: a mode change stops the timer and clears the count.
            deadline = null;
            initialCount = 0;
            tscDeadline = 0;
        }
    }

    private void WriteInitialCount(uint value)
    {
        if (TimerMode == TscDeadlineMode)
        {
            return; // ignored in TSC-deadline mode
        }

        initialCount = value;
        Restart();
    }

    private void WriteDivide(uint value)
    {
        divideConfig = value & 0xB;
        if (deadline is not null)
        {
            Restart(); // KVM recomputes the period from the new divisor (update_target_expiration)
        }
    }

    private void Restart()
    {
        if (initialCount == 0)
        {
            deadline = null;
            return;
        }

        ulong ns = initialCount * Divisor;
        if (TimerMode == Periodic && ns < MinPeriodNanoseconds)
        {
            ns = MinPeriodNanoseconds;
        }

        periodTicks = NanosecondsToTicks(ns);
        deadline = tsc() + periodTicks;
    }

    private uint CurrentCount()
    {
        if (TimerMode == TscDeadlineMode || deadline is not { } due)
        {
            return 0;
        }

        ulong now = tsc();
        ulong remaining = due > now ? TicksToNanoseconds(due - now) : 0;
        return (uint)Math.Min(remaining / Divisor, initialCount);
    }

    /// <summary>IA32_TSC_DEADLINE read: the armed deadline in TSC-deadline mode, else 0 (<c>kvm_get_lapic_tscdeadline_msr</c>).</summary>
    public ulong ReadTscDeadline() => TimerMode == TscDeadlineMode ? tscDeadline : 0;

    /// <summary>IA32_TSC_DEADLINE write: arms (or with 0 disarms) the timer; ignored outside TSC-deadline mode.</summary>
    public void WriteTscDeadline(ulong value)
    {
        if (TimerMode != TscDeadlineMode)
        {
            return;
        }

        tscDeadline = value;
        deadline = value == 0 ? null : value;
    }

    private ulong NanosecondsToTicks(ulong ns) => (ulong)((UInt128)ns * TscKhz / 1_000_000);

    private ulong TicksToNanoseconds(ulong ticks) => (ulong)((UInt128)ticks * 1_000_000 / TscKhz);
}
