using CocoLaunch.Cpu;

namespace CocoLaunch.Kvm;

/// <summary>
/// HLT in a VM of several vCPUs. Guest time is each vCPU's TSC, so a halted vCPU may not jump ahead of the others
/// the way a lone vCPU jumps to its timer's deadline: it waits for an IPI, or until the running vCPUs' time reaches
/// its deadline, and takes their time when it wakes, so the vCPUs' TSCs stay close. When every vCPU is halted, the
/// one whose deadline comes first jumps to it; when none has a deadline, nothing can wake any of them and the halt
/// returns KVM_EXIT_HLT.
/// </summary>
public sealed partial class VcpuFd
{
    private static readonly TimeSpan HaltPoll = TimeSpan.FromMilliseconds(1);

    // Published for the other vCPUs' halts: halted, and the guest time at which this vCPU wakes by itself.
    private volatile bool halted;
    private ulong haltedUntil = ulong.MaxValue;

    private bool WakeAmongOthers(IGuestCpu c, LocalApic apic, bool interruptsEnabled)
    {
        try
        {
            while (true)
            {
                var (running, othersTime, earliestOther) = OtherVcpusTime();
                if (running && othersTime > c.Tsc)
                {
                    c.AdvanceTsc(othersTime - c.Tsc);
                }

                apic.SyncPosted();
                apic.Tick(c.Tsc);
                if (apic.NmiPending || (interruptsEnabled && apic.PendingVector() >= 0))
                {
                    return true;
                }

                if (kicked)
                {
                    return false;
                }

                ulong? due = interruptsEnabled && apic.TimerUnmasked ? apic.TimerDeadline : null;
                if (KickAtTsc is { } kick && (due is null || kick < due))
                {
                    due = kick;
                }

                if (due is { } d && c.Tsc >= d)
                {
                    if (KickAtTsc is not null)
                    {
                        return true; // a host timer is due: KVM_RUN returns for it
                    }

                    if (!apic.TimerUnmasked || apic.PendingVector() < 0)
                    {
                        return false; // the timer fired below PPR: only an EOI could unblock it
                    }

                    continue;
                }

                if (!running)
                {
                    if (due is null && earliestOther == ulong.MaxValue)
                    {
                        return false; // every vCPU halted with nothing to wake it
                    }

                    if (due is { } first && first <= earliestOther)
                    {
                        c.AdvanceTsc(first - c.Tsc); // the earliest deadline of all: time moves to it
                        continue;
                    }
                }

                haltedUntil = due ?? ulong.MaxValue;
                halted = true;
                apic.WaitForPosted(HaltPoll);
            }
        }
        finally
        {
            halted = false;
        }
    }

    /// <summary>Whether another vCPU runs, the latest time among those that do, and the earliest wake-up among those halted.</summary>
    private (bool Running, ulong Time, ulong EarliestHalted) OtherVcpusTime()
    {
        bool running = false;
        ulong time = 0, earliest = ulong.MaxValue;
        foreach (var other in Vm.Vcpus)
        {
            if (ReferenceEquals(other, this) || other.guest is not { } g)
            {
                continue;
            }

            if (other.halted)
            {
                earliest = Math.Min(earliest, other.haltedUntil);
            }
            else
            {
                running = true;
                time = Math.Max(time, g.Tsc);
            }
        }

        return (running, time, earliest);
    }
}
