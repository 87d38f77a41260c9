using CocoLaunch.Abi;

namespace CocoLaunch.Firmware.Tdx;

/// <summary>Guest-physical memory as the TDX module reaches it for a TDCALL's buffers (private or shared by the GPA's shared bit).</summary>
public interface ITdGuestMemory
{
    bool TryRead(ulong gpa, Span<byte> destination);

    bool TryWrite(ulong gpa, ReadOnlySpan<byte> source);
}

/// <summary>What a vCPU's #VE left for TDG.VP.VEINFO.GET (guest-abi.md §2.3).</summary>
public sealed record VeInfo(uint ExitReason, ulong Qualification, ulong GuestLinear, ulong GuestPhysical, uint InstructionLength, uint InstructionInfo = 0);

/// <summary>The module's per-vCPU state a TDCALL reads or writes.</summary>
public sealed class TdxVcpu(uint index)
{
    public uint Index { get; } = index;

    /// <summary>The #VE information, valid from the #VE until TDG.VP.VEINFO.GET reads it.</summary>
    public VeInfo? PendingVe { get; set; }

    /// <summary>The TD's IA32_DEBUGCTL, which the module keeps (the guest-state field of the TD VMCS).</summary>
    public ulong DebugCtl { get; set; }
}

/// <summary>How a TDCALL ended, for the host side of the emulation.</summary>
public enum TdcallOutcome
{
    /// <summary>The module answered in the registers; the guest runs on.</summary>
    Done,

    /// <summary>TDG.VP.VMCALL: a TD exit the host (KVM) handles.</summary>
    VmCall,

    /// <summary>ACCEPT found no Secure-EPT leaf: a TD exit as an EPT violation at <see cref="TdCall.FaultGpa"/>. The host maps the page, then the TDCALL runs again.</summary>
    EptViolation,
}

/// <summary>
/// TDCALL (66 0F 01 CC) as the TDX module answers it for one TD (guest-abi.md §2): RAX = leaf, operands and
/// results in the GPRs, status in RAX. Pure: registers in, registers out, memory through <see cref="ITdGuestMemory"/>.
/// </summary>
public sealed class TdCall(TdxTd td, int maxVcpus, Func<int> initializedVcpus)
{
    public const ulong Vmcall = 0, VpInfo = 1, RtmrExtend = 2, VeInfoGet = 3, MrReport = 4, PageAccept = 6, VmRd = 7, VmWr = 8;

    public const ulong OperandInvalid = 0xC000_0100_0000_0000;
    public const ulong NoValidVeInfo = 0xC000_0704_0000_0000;
    public const ulong PageAlreadyAccepted = 0x0000_0B0A_0000_0000;
    public const ulong PageSizeMismatch = 0xC000_0B0B_0000_0000;

    /// <summary>TDCS fields TDG.VM.RD/WR know (guest-abi.md §2.6); CONFIG_FLAGS is 0, so a guest relies on ATTRIBUTES.SEPT_VE_DISABLE.</summary>
    public const ulong NotifyEnables = 0x9100_0000_0000_0010, ConfigFlags = 0x1110_0003_0000_0016, TdCtls = 0x1110_0003_0000_0017, TopologyEnumConfigured = 0x9100_0000_0000_0019;

    private const int Rax = 0, Rcx = 1, Rdx = 2, R8 = 8, R9 = 9, R10 = 10, R11 = 11;
    private const ulong OperandRax = 0, OperandRcx = 1, OperandRdx = 2, OperandR8 = 8;
    private readonly Dictionary<ulong, ulong> tdcs = new() { [NotifyEnables] = 0, [ConfigFlags] = 0, [TdCtls] = 0, [TopologyEnumConfigured] = 0 };

    /// <summary>Runs the TDCALL in <paramref name="gpr"/> for <paramref name="vcpu"/>.</summary>
    public TdcallOutcome Run(ulong[] gpr, TdxVcpu vcpu, ITdGuestMemory memory) => Run(gpr, vcpu, memory, out _);

    /// <summary>As <see cref="Run(ulong[], TdxVcpu, ITdGuestMemory)"/>; <paramref name="faultGpa"/> is the GPA of an <see cref="TdcallOutcome.EptViolation"/>.</summary>
    public TdcallOutcome Run(ulong[] gpr, TdxVcpu vcpu, ITdGuestMemory memory, out Gpa faultGpa)
    {
        faultGpa = default;
        ulong leaf = gpr[Rax] & 0xFFFF;
        ulong version = (gpr[Rax] >> 16) & 0xFF;
        if ((gpr[Rax] >> 24) != 0)
        {
            return Status(gpr, OperandInvalid | OperandRax);
        }

        switch (leaf)
        {
            case Vmcall:
                return TdcallOutcome.VmCall;
            case VpInfo:
                gpr[Rcx] = (ulong)(td.SharedBit + 1);
                gpr[Rdx] = td.Params?.Attributes ?? 0;
                gpr[R8] = (uint)initializedVcpus() | ((ulong)(uint)maxVcpus << 32);
                gpr[R9] = vcpu.Index;
                gpr[R10] = 0;
                gpr[R11] = 0;
                return Status(gpr, 0);
            case VeInfoGet:
                return VeInfoGetLeaf(gpr, vcpu, version);
            case PageAccept:
                return Accept(gpr, memory, out faultGpa);
            case MrReport:
                return Report(gpr, memory);
            case RtmrExtend:
                return Extend(gpr, memory);
            case VmRd or VmWr:
                return VmField(gpr, leaf == VmWr);
            default:
                return Status(gpr, OperandInvalid | OperandRax);
        }
    }

    private TdcallOutcome VeInfoGetLeaf(ulong[] gpr, TdxVcpu vcpu, ulong version)
    {
        if (version > 1)
        {
            return Status(gpr, OperandInvalid | OperandRax);
        }

        if (vcpu.PendingVe is not { } ve)
        {
            gpr[Rcx] = gpr[Rdx] = gpr[R8] = gpr[R9] = gpr[R10] = 0;
            return Status(gpr, NoValidVeInfo);
        }

        vcpu.PendingVe = null;
        gpr[Rcx] = ve.ExitReason;
        gpr[Rdx] = ve.Qualification;
        gpr[R8] = ve.GuestLinear;
        gpr[R9] = ve.GuestPhysical;
        gpr[R10] = ve.InstructionLength | ((ulong)ve.InstructionInfo << 32);
        return Status(gpr, 0);
    }

    private TdcallOutcome Accept(ulong[] gpr, ITdGuestMemory memory, out Gpa faultGpa)
    {
        faultGpa = default;
        int level = (int)(gpr[Rcx] & 7);
        var gpa = new Gpa(gpr[Rcx] & 0x000F_FFFF_FFFF_F000);
        if ((gpr[Rcx] & 0xFF8) != 0 || level > 1)
        {
            return Status(gpr, OperandInvalid | OperandRcx);
        }

        switch (td.Accept(gpa, level))
        {
            case AcceptResult.Accepted:
                // The page becomes the TD's, zeroed with its key, whatever the host left in it.
                memory.TryWrite(gpa.Value, new byte[PageSize.Size4K]);
                return Status(gpr, 0);
            case AcceptResult.AlreadyAccepted:
                return Status(gpr, PageAlreadyAccepted); // | level 0: found at 4K
            case AcceptResult.SizeMismatch:
                return Status(gpr, PageSizeMismatch | (uint)level);
            case AcceptResult.EptViolation:
                faultGpa = gpa;
                return TdcallOutcome.EptViolation;
            default:
                return Status(gpr, OperandInvalid | OperandRcx);
        }
    }

    private TdcallOutcome Report(ulong[] gpr, ITdGuestMemory memory)
    {
        ulong reportGpa = gpr[Rcx], dataGpa = gpr[Rdx];
        if (reportGpa % TdReport.Size != 0)
        {
            return Status(gpr, OperandInvalid | OperandRcx);
        }

        if (dataGpa % TdReport.ReportDataSize != 0)
        {
            return Status(gpr, OperandInvalid | OperandRdx);
        }

        if (gpr[R8] != 0)
        {
            return Status(gpr, OperandInvalid | OperandR8);
        }

        var reportData = new byte[TdReport.ReportDataSize];
        if (!memory.TryRead(dataGpa, reportData))
        {
            return Status(gpr, OperandInvalid | OperandRdx);
        }

        return memory.TryWrite(reportGpa, td.Report(reportData)) ? Status(gpr, 0) : Status(gpr, OperandInvalid | OperandRcx);
    }

    private TdcallOutcome Extend(ulong[] gpr, ITdGuestMemory memory)
    {
        ulong dataGpa = gpr[Rcx];
        if (dataGpa % 64 != 0 || ((dataGpa >> td.SharedBit) & 1) != 0)
        {
            return Status(gpr, OperandInvalid | OperandRcx); // 64-aligned and private only
        }

        if (gpr[Rdx] >= 4)
        {
            return Status(gpr, OperandInvalid | OperandRdx);
        }

        var data = new byte[48];
        if (!memory.TryRead(dataGpa, data))
        {
            return Status(gpr, OperandInvalid | OperandRcx);
        }

        td.RtmrExtend((int)gpr[Rdx], data);
        return Status(gpr, 0);
    }

    private TdcallOutcome VmField(ulong[] gpr, bool write)
    {
        ulong field = gpr[Rdx];
        lock (tdcs)
        {
            if (!tdcs.TryGetValue(field, out ulong value))
            {
                return Status(gpr, OperandInvalid | OperandRdx);
            }

            if (write)
            {
                ulong mask = gpr[R9];
                tdcs[field] = (value & ~mask) | (gpr[R8] & mask);
            }

            gpr[R8] = value;
        }

        return Status(gpr, 0);
    }

    private static TdcallOutcome Status(ulong[] gpr, ulong status)
    {
        gpr[Rax] = status;
        return TdcallOutcome.Done;
    }
}
