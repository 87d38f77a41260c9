using CocoLaunch.Abi;
using CocoLaunch.Abi.Kvm;
using CocoLaunch.Cpu;

namespace CocoLaunch.Kvm;

/// <summary>KVM's TDG.VP.VMCALL handling (<c>handle_tdvmcall</c>, <c>tdx_map_gpa</c>; guest-abi.md §3, §8.2).</summary>
public sealed partial class VcpuFd
{
    public const ulong TdvmcallCpuid = 10, TdvmcallHlt = 12, TdvmcallIo = 30, TdvmcallRdmsr = 31, TdvmcallWrmsr = 32, TdvmcallMmio = 48;
    public const ulong TdvmcallGetInfo = 0x10000, TdvmcallMapGpa = 0x10001, TdvmcallGetQuote = 0x10002, TdvmcallReportFatalError = 0x10003;

    private const ulong MapGpaChunk = 2UL << 20;

    private KvmExit? TdVmcall(X86Cpu c)
    {
        var gpr = c.State.Gpr;
        ulong exposed = gpr[Rcx];
        // The module refuses to expose RAX, RCX or RSP, or anything above the GPR/XMM masks: no TD exit at all.
        if ((exposed >> 32) != 0 || (exposed & 0x13) != 0)
        {
            gpr[Rax] = Firmware.Tdx.TdCall.OperandInvalid | 1;
            return null;
        }

        gpr[Rax] = 0;
        if (gpr[R10] != 0)
        {
            // A vendor (KVM) hypercall: none is offered to a TD here.
            gpr[R10] = unchecked((ulong)-KvmEnosys);
            return null;
        }

        gpr[R10] = TdVmcallStatus.Success; // KVM leaves the caller's 0; written so the guest never depends on it
        switch (gpr[R11])
        {
            case TdvmcallCpuid:
                (gpr[R12], gpr[R13], gpr[R14], gpr[R15]) = TdCpuid((uint)gpr[R12], (uint)gpr[R13], c.State);
                return null;
            case TdvmcallHlt:
                return new KvmExit.Hlt();
            case TdvmcallIo:
                return TdvmcallPortIo(gpr);
            case TdvmcallMmio:
                return TdvmcallMmioAccess(gpr);
            case TdvmcallRdmsr:
                if (TryReadKvmMsr((uint)gpr[R12], out ulong msr) && gpr[R12] <= uint.MaxValue)
                {
                    gpr[R11] = msr;
                }
                else
                {
                    gpr[R10] = TdVmcallStatus.InvalidOperand; // not an MSR KVM emulates: no #GP for a TD
                }

                return null;
            case TdvmcallWrmsr:
                if (gpr[R12] > uint.MaxValue || !TryWriteKvmMsr((uint)gpr[R12], gpr[R13]))
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
                if ((gpr[R12] & TdSharedBit) == 0)
                {
                    gpr[R10] = TdVmcallStatus.InvalidOperand; // the buffer must be shared
                    return null;
                }

                return cpuPending = new KvmExit.TdxGetQuote(gpr[R12] & ~TdSharedBit, gpr[R13]);
            case TdvmcallReportFatalError:
                return FatalError(gpr);
            default:
                gpr[R10] = TdVmcallStatus.SubfuncUnsupported;
                return null;
        }
    }

    private KvmExit? TdvmcallPortIo(ulong[] gpr)
    {
        int size = (int)gpr[R12];
        ulong direction = gpr[R13];
        if (size is not (1 or 2 or 4) || direction > 1 || gpr[R14] > 0xFFFF)
        {
            gpr[R10] = TdVmcallStatus.InvalidOperand;
            return null;
        }

        var port = (ushort)gpr[R14];
        if (direction == 1)
        {
            return new KvmExit.Io(true, size, port, 1, BitConverter.GetBytes(gpr[R15])[..size]);
        }

        return cpuPending = new KvmExit.Io(false, size, port, 1, new byte[size]);
    }

    private KvmExit? TdvmcallMmioAccess(ulong[] gpr)
    {
        int size = (int)gpr[R12];
        ulong gpa = gpr[R14];
        if (size is not (1 or 2 or 4 or 8) || gpr[R13] > 1 || (gpa & TdSharedBit) == 0 || ((gpa + (ulong)size - 1) & TdSharedBit) == 0)
        {
            gpr[R10] = TdVmcallStatus.InvalidOperand;
            return null;
        }

        var address = new Gpa(gpa & ~TdSharedBit);
        return gpr[R13] == 1
            ? new KvmExit.Mmio(address, size, true, BitConverter.GetBytes(gpr[R15])[..size])
            : cpuPending = new KvmExit.Mmio(address, size, false, new byte[size]);
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

        ulong shared = TdSharedBit;
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

        return MapGpaChunkExit(new MapGpaProgress(gpa, gpa, end, (gpa & shared) == 0, shared, null!));
    }

    private KvmExit.Hypercall MapGpaChunkExit(MapGpaProgress progress)
    {
        ulong length = Math.Min(MapGpaChunk, progress.End - progress.Next);
        var exit = new KvmExit.Hypercall(KvmLimits.HcMapGpaRange,
            [progress.Next & ~progress.SharedBit, length / Page, progress.ToPrivate ? 0x10UL : 0, 0, 0, 0], Flags: 1);
        mapGpa = progress with { Exit = exit };
        return exit;
    }

    /// <summary>Completes what the last TD exit left for userspace: a MapGPA chunk, IN and MMIO data, GetQuote's ret.</summary>
    private KvmExit? CompleteTdxExit(X86Cpu c)
    {
        var gpr = c.State.Gpr;
        if (mapGpa is { } progress)
        {
            mapGpa = null;
            if (progress.Exit.Ret != 0)
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

        switch (cpuPending)
        {
            case KvmExit.Io { IsOut: false } io:
                var data = new byte[8];
                io.Data.CopyTo(data, 0);
                gpr[R11] = BitConverter.ToUInt64(data);
                break;
            case KvmExit.Mmio { IsWrite: false } m:
                var value = new byte[8];
                m.Data.CopyTo(value, 0);
                gpr[R11] = BitConverter.ToUInt64(value);
                break;
            case KvmExit.TdxGetQuote q:
                gpr[R10] = q.Ret;
                break;
        }

        cpuPending = null;
        return null;
    }

    /// <summary>ReportFatalError: KVM_EXIT_SYSTEM_EVENT type TDX_FATAL with the GPRs in index order (§3.5).</summary>
    private static KvmExit.SystemEvent FatalError(ulong[] gpr)
    {
        var data = new ulong[16];
        data[0] = 0; // TD-exit status
        data[1] = gpr[Rcx];
        data[2] = gpr[Rdx];
        data[3] = gpr[3];
        data[6] = gpr[6];
        data[7] = gpr[7];
        for (int r = 8; r < 16; r++)
        {
            data[r] = gpr[r];
        }

        return new KvmExit.SystemEvent(KvmExit.SystemEvent.TdxFatal, data);
    }
}
