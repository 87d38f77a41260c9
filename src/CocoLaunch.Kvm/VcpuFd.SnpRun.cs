using System.Buffers.Binary;
using CocoLaunch.Abi;
using CocoLaunch.Abi.Kvm;
using CocoLaunch.Cpu;
using CocoLaunch.Kvm.Mmu;

namespace CocoLaunch.Kvm;

/// <summary>
/// An SEV-SNP guest on the emulated CPU: what the hardware makes a #VC (CPUID, port I/O, MSRs, MMIO, VMMCALL),
/// PVALIDATE against the RMP, and KVM's VMGEXIT handling of the GHCB MSR protocol and the GHCB page's NAE events
/// (guest-abi.md §4–§6, §8.3).
/// </summary>
public sealed partial class VcpuFd
{
    public const uint GhcbMsr = 0xC001_0130, SevStatusMsr = 0xC001_0131;

    /// <summary>SEV_STATUS: SEV, SEV-ES and SNP enabled.</summary>
    public const ulong SevStatus = 0x7;

    private const ulong VcCpuid = 0x72, VcIoio = 0x7B, VcMsr = 0x7C, VcVmmcall = 0x81, VcNpf = 0x400;

    /// <summary>The GHCB MSR: KVM preloads it with the SEV-information response at reset.</summary>
    public ulong GhcbMsrValue { get; set; } = SevInfoResponse;

    /// <summary>SEV info: protocol max 2, min 1, C-bit position (guest-abi.md §4).</summary>
    public static ulong SevInfoResponse => (2UL << 48) | (1UL << 32) | ((ulong)SnpCBit << 24) | 0x001;

    /// <summary>The GHCB the guest registered (MSR protocol 0x012), as a GFN; null until then.</summary>
    public ulong? RegisteredGhcbGfn { get; private set; }

    private SnpPending? snpPending;

    /// <summary>What a VMGEXIT left for userspace: the GHCB page-state change or I/O in progress.</summary>
    private sealed record SnpPending(ulong GhcbGpa, KvmExit Exit, Func<KvmExit, KvmExit?> Complete);

    private KvmExit? SnpExit(X86Cpu c, CpuExit exit)
    {
        switch (exit)
        {
            case CpuExit.PortOut or CpuExit.PortIn:
                c.InjectFaultAtLastExit(Vector.VmmCommunication, (uint)VcIoio);
                return null;
            case CpuExit.MmioRead or CpuExit.MmioWrite:
                c.InjectFaultAtLastExit(Vector.VmmCommunication, (uint)VcNpf);
                return null;
            case CpuExit.Halt:
                return new KvmExit.Hlt(); // an automatic exit, not a #VC
            case CpuExit.Shutdown:
                return new KvmExit.Shutdown();
            case CpuExit.InstructionLimit:
                return null;
            case CpuExit.InstructionExit x:
                return SnpInstruction(c, x);
            default:
                throw new InvalidOperationException($"unexpected CPU exit {exit}");
        }
    }

    private KvmExit? SnpInstruction(X86Cpu c, CpuExit.InstructionExit x)
    {
        var s = c.State;
        switch (x.Instruction)
        {
            case ExitInstruction.Rdmsr when (uint)s.Gpr[1] is GhcbMsr or SevStatusMsr:
                // The GHCB MSR and SEV_STATUS are the hardware's (in the VMSA): no #VC.
                ulong value = (uint)s.Gpr[1] == GhcbMsr ? GhcbMsrValue : SevStatus;
                (s.Gpr[0], s.Gpr[2]) = (value & 0xFFFF_FFFF, value >> 32);
                return null;
            case ExitInstruction.Wrmsr when (uint)s.Gpr[1] == GhcbMsr:
                GhcbMsrValue = ((s.Gpr[2] & 0xFFFF_FFFF) << 32) | (s.Gpr[0] & 0xFFFF_FFFF);
                return null;
            case ExitInstruction.Rdmsr or ExitInstruction.Wrmsr:
                c.InjectException(Vector.VmmCommunication, (uint)VcMsr, x);
                return null;
            case ExitInstruction.Cpuid:
                c.InjectException(Vector.VmmCommunication, (uint)VcCpuid, x);
                return null;
            case ExitInstruction.Vmmcall:
                c.InjectException(Vector.VmmCommunication, (uint)VcVmmcall, x);
                return null;
            case ExitInstruction.Vmgexit:
                return Vmgexit(c);
            case ExitInstruction.Pvalidate:
                return Pvalidate(c, x);
            case ExitInstruction.Rmpadjust:
                return Rmpadjust(c);
            case ExitInstruction.Xsetbv:
                SetXcr(c, x);
                return null;
            case ExitInstruction.Wbinvd:
                return null;
            default:
                c.InjectException(Vector.InvalidOpcode, null, x);
                return null;
        }
    }

    /// <summary>
    /// PVALIDATE: RAX = the page's virtual address, ECX = 2M, EDX = validate. EAX gets the return code and CF says
    /// the bit did not change. A page that is not the guest's in the RMP is an RMP #NPF: KVM faults it in privately
    /// (an implicit conversion when the attributes say shared) and the instruction runs again.
    /// </summary>
    private KvmExit? Pvalidate(X86Cpu c, CpuExit.InstructionExit x)
    {
        var s = c.State;
        var rmp = Vm.Snp!.Rmp;
        if (!c.TryTranslate(s.Gpr[0], out ulong gpa) || (gpa & (1UL << SnpCBit)) == 0)
        {
            SetPvalidateResult(s, Firmware.Snp.RmpTable.PvalidateFailInput, unchanged: false);
            return null;
        }

        var frame = new Gpa(gpa & ~(1UL << SnpCBit) & ~0xFFFUL);
        if ((s.Gpr[1] & 1) == 0)
        {
            SplitLargeRmpEntry(frame);
        }

        var result = rmp.Pvalidate(frame, size2M: (s.Gpr[1] & 1) != 0, validate: (s.Gpr[2] & 1) != 0);
        if (result is null)
        {
            try
            {
                new VcpuPlatform(Vm).Map(frame.Value / Page, isPrivate: true);
            }
            catch (PlatformStop stop)
            {
                s.Rip = x.Rip;
                return Stopped(new CpuExit.Stopped(stop.Reason));
            }

            result = rmp.Pvalidate(frame, size2M: (s.Gpr[1] & 1) != 0, validate: (s.Gpr[2] & 1) != 0) ?? (Firmware.Snp.RmpTable.PvalidateFailInput, false);
        }

        SetPvalidateResult(s, result.Value.ReturnCode, result.Value.Unchanged);
        return null;
    }

    /// <summary>
    /// A 4K PVALIDATE or RMPADJUST inside a 2M RMP entry is the hardware's size-mismatch #NPF: KVM PSMASHes the entry
    /// and drops the 2M leaf, so the pages fault in again at 4K, and the instruction runs again.
    /// </summary>
    private void SplitLargeRmpEntry(Gpa frame)
    {
        if (Vm.Snp!.Rmp.Psmash(frame))
        {
            Vm.Mmu.DemotePrivate((frame.Value / Page) & ~(PageLevel.Size2M.Frames() - 1), PageLevel.Size2M.Frames());
        }
    }

    private static void SetPvalidateResult(CpuState s, uint code, bool unchanged)
    {
        s.Gpr[0] = code;
        s.Rflags = (s.Rflags & ~CpuState.ArithmeticFlags) | (unchanged ? CpuState.FlagCf : 0);
    }

    private KvmExit? Vmgexit(X86Cpu c)
    {
        ulong msr = GhcbMsrValue;
        return (msr & 0xFFF) != 0 ? MsrProtocol(c, msr) : GhcbEvent(c, msr);
    }

    /// <summary>The GHCB MSR protocol (guest-abi.md §4): the request in [11:0], data above.</summary>
    private KvmExit? MsrProtocol(X86Cpu c, ulong msr)
    {
        ulong data = msr >> 12;
        switch (msr & 0xFFF)
        {
            case 0x002:
                GhcbMsrValue = SevInfoResponse;
                return null;
            case 0x004:
            {
                uint function = (uint)(msr >> 32);
                int register = (int)((msr >> 30) & 3);
                var (eax, ebx, ecx, edx) = SnpCpuid(function, 0, c.State);
                ulong value = register switch { 0 => eax, 1 => ebx, 2 => ecx, _ => edx };
                GhcbMsrValue = (value << 32) | (msr & 0xFFFF_F000) | 0x005;
                return null;
            }

            case 0x010:
                GhcbMsrValue = (0xF_FFFF_FFFF_FFFFUL << 12) | 0x011; // no preferred GHCB
                return null;
            case 0x012:
                RegisteredGhcbGfn = data;
                GhcbMsrValue = (data << 12) | 0x013;
                return null;
            case 0x014:
            {
                ulong gfn = (msr >> 12) & 0xFF_FFFF_FFFF;
                ulong op = (msr >> 52) & 0xF;
                if (op is not (1 or 2) || (Vm.HypercallExitMask & (1UL << (int)KvmLimits.HcMapGpaRange)) == 0)
                {
                    GhcbMsrValue = 0x8000_0000_0000_0015;
                    return null;
                }

                var exit = new KvmExit.Hypercall(KvmLimits.HcMapGpaRange, [gfn * Page, 1, op == 1 ? 0x10UL : 0, 0, 0, 0], Flags: 1);
                snpPending = new SnpPending(0, exit, e => { GhcbMsrValue = ((KvmExit.Hypercall)e).Ret == 0 ? 0x015 : 0x8000_0000_0000_0015; return null; });
                return exit;
            }

            case 0x080:
                GhcbMsrValue = (0x3UL << 12) | 0x081; // SNP and AP creation (VcpuFd.SnpAp.cs)
                return null;
            case 0x100:
                return new KvmExit.SystemEvent(KvmExit.SystemEvent.SevTerm, [msr]);
            default:
                return null; // unknown requests resume the guest with the MSR unchanged
        }
    }

    private (ulong Eax, ulong Ebx, ulong Ecx, ulong Edx) SnpCpuid(uint function, uint index, CpuState state)
    {
        if (function == 0x8000_001F)
        {
            // SEV, SEV-ES, SNP; C-bit position 51, one bit of physical address reduction.
            return ((1 << 1) | (1 << 3) | (1 << 4), (ulong)SnpCBit | (1 << 6), 0, 0);
        }

        return TdCpuid(function, index, state) is var r && function == 0x21 ? (0, 0, 0, 0) : r;
    }

    /// <summary>Completes what the last VMGEXIT left for userspace; the next exit of a page-state change in progress, if any.</summary>
    private KvmExit? CompleteSnpExit()
    {
        if (snpPending is not { } pending)
        {
            return null;
        }

        snpPending = null;
        return pending.Complete(pending.Exit);
    }
}
