using CocoLaunch.Abi;
using CocoLaunch.Abi.Kvm;
using CocoLaunch.Cpu;

namespace CocoLaunch.Kvm;

/// <summary>KVM's TDG.VP.VMCALL handling (<c>handle_tdvmcall</c>, <c>tdx_map_gpa</c>; guest-abi.md §3, §8.2).</summary>
public sealed partial class TdxVcpuBackend
{
    public const ulong TdvmcallCpuid = 10, TdvmcallHlt = 12, TdvmcallIo = 30, TdvmcallRdmsr = 31, TdvmcallWrmsr = 32, TdvmcallMmio = 48;
    public const ulong TdvmcallGetInfo = 0x10000, TdvmcallMapGpa = 0x10001, TdvmcallGetQuote = 0x10002, TdvmcallReportFatalError = 0x10003;

    private const int Rax = 0, Rcx = 1, Rdx = 2, Rbx = 3, R10 = 10, R11 = 11, R12 = 12, R13 = 13, R14 = 14, R15 = 15;
    private const ulong MapGpaChunk = 2UL << 20;

    private KvmExit? awaiting;
    private MapGpaProgress? mapGpa;

    /// <summary>A MapGPA being cut into ≤ 2 MiB KVM_EXIT_HYPERCALLs: where the next chunk starts, the end, the direction.</summary>
    private sealed record MapGpaProgress(ulong Next, ulong End, bool ToPrivate, ulong SharedBit, KvmExit.Hypercall? Exit);

    internal override void Attached()
    {
        awaiting = null;
        mapGpa = null;
    }

    private KvmExit? TdVmcall(IGuestCpu c)
    {
        var gpr = c.State.Gpr;
        if (gpr[R10] != 0)
        {
            // A KVM hypercall (tdx_emulate_vmcall): R10 the number, R11–R13 the arguments, the result in R10.
            var exit = EmulateHypercall(gpr[R10], gpr[R11], gpr[R12], gpr[R13], op64: true, cpl: 0, out ulong ret);
            if (exit is not null)
            {
                return awaiting = exit;
            }

            gpr[R10] = ret;
            return null;
        }

        gpr[R10] = TdVmcallStatus.Success; // KVM leaves the caller's 0; written so the guest never depends on it
        switch (gpr[R11])
        {
            case TdvmcallCpuid:
                (gpr[R12], gpr[R13], gpr[R14], gpr[R15]) = KvmCpuid((uint)gpr[R12], (uint)gpr[R13], c.State);
                return null;
            case TdvmcallHlt:
                // KVM blocks the vCPU until an interrupt can wake it (the in-kernel APIC's timer, or one already pending).
                // The TD calls with IF clear; R12 says whether interrupts are blocked once it returns (GHCI, Instruction.HLT).
                return Vcpu.Apic is { } apic && Vcpu.Wake(c, apic, interruptsEnabled: gpr[R12] == 0) ? null : new KvmExit.Hlt();
            case TdvmcallIo:
                return PortIo(gpr);
            case TdvmcallMmio:
                return Mmio(gpr);
            case TdvmcallRdmsr:
                if (gpr[R12] <= uint.MaxValue && KvmMsrRead((uint)gpr[R12], out ulong msr))
                {
                    gpr[R11] = msr;
                }
                else
                {
                    gpr[R10] = TdVmcallStatus.InvalidOperand; // not an MSR KVM emulates: no #GP for a TD
                }

                return null;
            case TdvmcallWrmsr:
                if (gpr[R12] > uint.MaxValue || !KvmMsrWrite((uint)gpr[R12], gpr[R13]))
                {
                    gpr[R10] = TdVmcallStatus.InvalidOperand;
                }

                return null;
            case TdvmcallGetInfo:
                if (gpr[R12] != 0)
                {
                    gpr[R10] = TdVmcallStatus.InvalidOperand;
                    return null;
                }

                gpr[R11] = gpr[R12] = gpr[R13] = gpr[R14] = 0;
                return null;
            case TdvmcallMapGpa:
                return MapGpa(gpr);
            case TdvmcallGetQuote:
                if ((gpr[R12] & SharedBit) == 0)
                {
                    gpr[R10] = TdVmcallStatus.InvalidOperand; // the buffer must be shared
                    return null;
                }

                return awaiting = new KvmExit.TdxGetQuote(gpr[R12] & ~SharedBit, gpr[R13]);
            case TdvmcallReportFatalError:
                return FatalError(gpr);
            default:
                gpr[R10] = TdVmcallStatus.SubfuncUnsupported;
                return null;
        }
    }

    private KvmExit? PortIo(ulong[] gpr)
    {
        int size = (int)gpr[R12];
        ulong direction = gpr[R13];
        if (size is not (1 or 2 or 4) || direction > 1 || gpr[R14] > 0xFFFF)
        {
            gpr[R10] = TdVmcallStatus.InvalidOperand;
            return null;
        }

        var port = (ushort)gpr[R14];
        return direction == 1
            ? new KvmExit.Io(true, size, port, 1, BitConverter.GetBytes(gpr[R15])[..size])
            : awaiting = new KvmExit.Io(false, size, port, 1, new byte[size]);
    }

    private KvmExit? Mmio(ulong[] gpr)
    {
        int size = (int)gpr[R12];
        ulong gpa = gpr[R14];
        ulong shared = SharedBit;
        if (size is not (1 or 2 or 4 or 8) || gpr[R13] > 1 || (gpa & shared) == 0 || ((gpa + (ulong)size - 1) & shared) == 0)
        {
            gpr[R10] = TdVmcallStatus.InvalidOperand;
            return null;
        }

        var address = new Gpa(gpa & ~shared);
        return gpr[R13] == 1
            ? new KvmExit.Mmio(address, size, true, BitConverter.GetBytes(gpr[R15])[..size])
            : awaiting = new KvmExit.Mmio(address, size, false, new byte[size]);
    }

    /// <summary>MapGPA: KVM's checks in order, then one KVM_EXIT_HYPERCALL (MAP_GPA_RANGE) per ≤ 2 MiB chunk (§3.4).</summary>
    private KvmExit? MapGpa(ulong[] gpr)
    {
        ulong gpa = gpr[R12], size = gpr[R13];
        if ((Vm.HypercallExitMask & (1UL << (int)KvmLimits.HcMapGpaRange)) == 0)
        {
            gpr[R10] = TdVmcallStatus.SubfuncUnsupported;
            return null;
        }

        ulong shared = SharedBit;
        ulong end = gpa + size;
        ulong limit = shared << 1; // GPAW: the shared bit is the top GPA bit
        if (size == 0 || end < gpa || end > limit || ((gpa ^ (end - 1)) & shared) != 0)
        {
            (gpr[R10], gpr[R11]) = (TdVmcallStatus.InvalidOperand, gpa);
            return null;
        }

        if (gpa % Page != 0 || size % Page != 0)
        {
            (gpr[R10], gpr[R11]) = (TdVmcallStatus.AlignError, gpa);
            return null;
        }

        return MapGpaChunkExit(new MapGpaProgress(gpa, end, (gpa & shared) == 0, shared, null));
    }

    private KvmExit.Hypercall MapGpaChunkExit(MapGpaProgress progress)
    {
        ulong length = Math.Min(MapGpaChunk, progress.End - progress.Next);
        var exit = new KvmExit.Hypercall(KvmLimits.HcMapGpaRange,
            [progress.Next & ~progress.SharedBit, length / Page, progress.ToPrivate ? 0x10UL : 0, 0, 0, 0], Flags: 1);
        mapGpa = progress with { Exit = exit };
        return exit;
    }

    /// <summary>Completes what the last TD exit left for userspace: a MapGPA chunk, IN and MMIO data, GetQuote's and a hypercall's ret.</summary>
    internal override KvmExit? CompleteUserspaceExit(IGuestCpu c)
    {
        var gpr = c.State.Gpr;
        if (mapGpa is { Exit: { } chunk } progress)
        {
            mapGpa = null;
            if (chunk.Ret != 0)
            {
                (gpr[R10], gpr[R11]) = (TdVmcallStatus.InvalidOperand, progress.Next);
                return null;
            }

            ulong next = progress.Next + Math.Min(MapGpaChunk, progress.End - progress.Next);
            if (next < progress.End)
            {
                return MapGpaChunkExit(progress with { Next = next }); // nothing else is pending: the next chunk exits at once
            }

            gpr[R10] = TdVmcallStatus.Success;
            return null;
        }

        var answered = awaiting;
        awaiting = null;
        switch (answered)
        {
            case KvmExit.Io { IsOut: false } io:
                gpr[R11] = AnswerValue(io.Data);
                break;
            case KvmExit.Mmio { IsWrite: false } m:
                gpr[R11] = AnswerValue(m.Data);
                break;
            case KvmExit.TdxGetQuote q:
                gpr[R10] = q.Ret;
                break;
            case KvmExit.Hypercall h:
                gpr[R10] = h.Ret;
                break;
        }

        return null;
    }

    /// <summary>ReportFatalError: KVM_EXIT_SYSTEM_EVENT type TDX_FATAL with the GPRs in index order (§3.5).</summary>
    private static KvmExit.SystemEvent FatalError(ulong[] gpr)
    {
        var data = new ulong[16];
        data[0] = 0; // TD-exit status
        data[1] = gpr[Rcx];
        data[2] = gpr[Rdx];
        data[3] = gpr[Rbx];
        data[6] = gpr[6];
        data[7] = gpr[7];
        for (int r = 8; r < 16; r++)
        {
            data[r] = gpr[r];
        }

        return new KvmExit.SystemEvent(KvmExit.SystemEvent.TdxFatal, data);
    }
}
