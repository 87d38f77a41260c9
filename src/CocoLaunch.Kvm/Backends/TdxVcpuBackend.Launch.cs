using CocoLaunch.Abi;
using CocoLaunch.Abi.Kvm;
using CocoLaunch.Firmware.Tdx;

namespace CocoLaunch.Kvm;

/// <summary>The TD vCPU's commands (<c>tdx_vcpu_ioctl</c>): KVM_TDX_INIT_VCPU and KVM_TDX_INIT_MEM_REGION.</summary>
public sealed partial class TdxVcpuBackend
{
    private const int ChunksPerPage = (int)(PageSize.Size4K / MrtdRecords.ExtendChunk);

    /// <summary>KVM_TDX_INIT_VCPU's data: the initial RCX, which TDVF reads as the TD HOB address.</summary>
    public ulong? InitialRcx { get; private set; }

    /// <summary>
    /// KVM_MEMORY_ENCRYPT_OP on the vCPU fd: KVM_TDX_INIT_VCPU and KVM_TDX_INIT_MEM_REGION. Refused before
    /// INIT_VM and after FINALIZE_VM.
    /// </summary>
    internal override void MemoryEncryptOp(KvmTdxCmd cmd, CancellationToken signal)
    {
        if (Vm.TdState != TdState.Initialized)
        {
            throw new KvmException(Errno.EINVAL, $"TDX vCPU commands need an initialised, unfinalized TD (it is {Vm.TdState})");
        }

        if (cmd.HwError != 0)
        {
            throw new KvmException(Errno.EINVAL, "hw_error must be 0 on input");
        }

        switch (cmd.Id)
        {
            case KvmTdxCmdId.InitVcpu:
                if (cmd.Flags != 0 || InitialRcx is not null)
                {
                    throw new KvmException(Errno.EINVAL, "KVM_TDX_INIT_VCPU: flags must be 0 and the vCPU initialised once");
                }

                // tdx_vcpu_init: the vCPU's APIC starts enabled in x2APIC mode, the BSP's with the BSP flag.
                if (Vcpu.Apic is { } apic && !apic.TrySetBase(LocalApic.DefaultBase | LocalApic.BaseEnable | LocalApic.BaseExtd | (Vcpu.Id == 0 ? LocalApic.BaseBsp : 0)))
                {
                    throw new KvmException(Errno.EINVAL, "KVM_TDX_INIT_VCPU: the APIC cannot enter x2APIC mode");
                }

                InitialRcx = cmd.Data as ulong? ?? 0;
                break;
            case KvmTdxCmdId.InitMemRegion:
                InitMemRegion(cmd, signal);
                break;
            case KvmTdxCmdId.GetCpuid:
                GetCpuid(cmd);
                break;
            case KvmTdxCmdId.ExtendMemory when Vm.Kvm.Profile.TdxTwoPass:
                ExtendMemory(cmd);
                break;
            default:
                throw new KvmException(Errno.EINVAL, $"TDX vCPU command {(uint)cmd.Id} is not supported");
        }
    }

    /// <summary>
    /// KVM_TDX_INIT_MEM_REGION: per 4K page, map the private GFN, TDH.MEM.PAGE.ADD the source into it and, with
    /// KVM_TDX_MEASURE_MEMORY_REGION, TDH.MR.EXTEND its 16 chunks. The region is written back after every page,
    /// so on an error it shows exactly how far the call got.
    /// </summary>
    private void InitMemRegion(KvmTdxCmd cmd, CancellationToken signal)
    {
        if (InitialRcx is null)
        {
            throw new KvmException(Errno.EINVAL, "KVM_TDX_INIT_MEM_REGION on a vCPU without KVM_TDX_INIT_VCPU");
        }

        if ((cmd.Flags & ~KvmTdxFlags.MeasureMemoryRegion) != 0)
        {
            throw new KvmException(Errno.EINVAL, $"KVM_TDX_INIT_MEM_REGION: flags 0x{cmd.Flags:x}");
        }

        var region = cmd.Data as KvmTdxInitMemRegion? ?? throw new KvmException(Errno.EFAULT, "KVM_TDX_INIT_MEM_REGION: no kvm_tdx_init_mem_region");
        ulong end = region.Gpa + (region.NrPages * Page);
        ulong shared = SharedBit;
        if (region.SourceAddr % Page != 0 || region.Gpa % Page != 0 || region.NrPages == 0 || end <= region.Gpa
            || (region.Gpa & shared) != 0 || ((end - 1) & shared) != 0)
        {
            throw new KvmException(Errno.EINVAL, $"KVM_TDX_INIT_MEM_REGION: source 0x{region.SourceAddr:x} gpa 0x{region.Gpa:x} pages {region.NrPages}");
        }

        bool measure = (cmd.Flags & KvmTdxFlags.MeasureMemoryRegion) != 0;
        var source = new byte[Page];
        try
        {
            while (region.NrPages > 0)
            {
                if (signal.IsCancellationRequested)
                {
                    throw new KvmException(Errno.EINTR, "KVM_TDX_INIT_MEM_REGION interrupted");
                }

                AddPage(new Gpa(region.Gpa), new Memory.Hva(region.SourceAddr), measure, source);
                region.SourceAddr += Page;
                region.Gpa += Page;
                region.NrPages--;
            }
        }
        finally
        {
            cmd.Data = region;
        }
    }

    private void AddPage(Gpa gpa, Memory.Hva sourceAddr, bool measure, byte[] source)
    {
        ulong gfn = gpa.Value / Page;
        var slot = Vm.Slots.Find(gfn);
        if (slot is not { BoundToGmem: true, GuestMemfd: not null })
        {
            throw new KvmException(Errno.EINVAL, $"gpa {gpa} is not in a guest_memfd memslot");
        }

        if (!Vm.AttributesOf(gfn).HasFlag(KvmMemoryAttributes.Private))
        {
            throw new KvmException(Errno.EINVAL, $"gpa {gpa} is not PRIVATE");
        }

        // A source inside a file mapping is read in place; anything else is copied out of host memory.
        if (!Vm.Kvm.Host.TryGetFileBytes(sourceAddr, (int)Page, out var sourceBytes))
        {
            try
            {
                Vm.Kvm.Host.Read(sourceAddr, source);
            }
            catch (Memory.HostFaultException e)
            {
                throw new KvmException(Errno.EFAULT, $"source {sourceAddr}: {e.Message}");
            }

            sourceBytes = source;
        }

        // The S-EPT leaf is built first ("premapped"), then PAGE.ADD fills it: always a 4K private leaf.
        var outcome = Vm.Fault(gfn, 1, isPrivate: true, prefetch: true, exactRange: (gfn, gfn + 1));
        while (outcome.Kind == FaultKind.Retry)
        {
            Thread.Yield();
            outcome = Vm.Fault(gfn, 1, isPrivate: true, prefetch: true, exactRange: (gfn, gfn + 1));
        }

        if (outcome.Kind != FaultKind.Mapped)
        {
            throw new KvmException(outcome.Kind == FaultKind.Error ? outcome.Error.Errno : Errno.EINVAL, $"mapping gpa {gpa}: {outcome.Error.Detail}");
        }

        try
        {
            // PAGE.ADD copies the source straight into the private page, and MR.EXTEND reads it there.
            ulong pgoff = slot.GuestMemfdPgoff + (gfn - slot.BaseGfn);
            slot.GuestMemfd.Pages.WithPage(pgoff, (Td, Gpa: gpa, Source: sourceBytes, Measure: measure, Backend: this), static (tdPage, s) =>
            {
                s.Td.MemPageAdd(s.Gpa, s.Source.Span, tdPage);
                if (s.Measure)
                {
                    s.Backend.Extend(s.Gpa, tdPage);
                }
            }, overwritesWholePage: true);
        }
        catch (TdxException e)
        {
            // The leaf stays premapped: FINALIZE_VM refuses until a retry adds it or a zap removes it.
            var errno = e.Status switch
            {
                TdxStatus.OperandInvalid => Errno.EINVAL,
                TdxStatus.OperandBusy => Errno.EBUSY,
                _ => Errno.EIO,
            };
            throw new KvmException(errno, e.Message);
        }
    }

    internal void Extend(Gpa gpa, ReadOnlySpan<byte> page)
    {
        for (int i = 0; i < ChunksPerPage; i++)
        {
            Td.MrExtend(gpa.CheckedAdd((ulong)i * MrtdRecords.ExtendChunk), page.Slice(i * MrtdRecords.ExtendChunk, MrtdRecords.ExtendChunk));
        }
    }

    /// <summary>KVM_TDX_EXTEND_MEMORY (early-2024 API): TDH.MR.EXTEND pages already added, reading them from TD memory.</summary>
    private void ExtendMemory(KvmTdxCmd cmd)
    {
        var region = cmd.Data as KvmTdxInitMemRegion? ?? throw new KvmException(Errno.EFAULT, "KVM_TDX_EXTEND_MEMORY: no region");
        var page = new byte[Page];
        try
        {
            while (region.NrPages > 0)
            {
                var gpa = new Gpa(region.Gpa);
                Vm.BackingStore(gpa.Value / Page, isPrivate: true).Read(gpa.Value, page);
                Extend(gpa, page);
                region.Gpa += Page;
                region.NrPages--;
            }
        }
        catch (TdxException e)
        {
            throw new KvmException(Errno.EIO, e.Message);
        }
        finally
        {
            cmd.Data = region;
        }
    }

    /// <summary>
    /// KVM_TDX_GET_CPUID (<c>tdx_vcpu_get_cpuid</c>): the CPUID values the TDX module virtualises for this vCPU, as the
    /// TD was configured at KVM_TDX_INIT_VM. Too small an nent is E2BIG with nent set to the count needed and no
    /// entries written.
    /// </summary>
    private void GetCpuid(KvmTdxCmd cmd)
    {
        if (InitialRcx is null)
        {
            throw new KvmException(Errno.EINVAL, "KVM_TDX_GET_CPUID on a vCPU without KVM_TDX_INIT_VCPU");
        }

        var output = cmd.Data as KvmCpuid2 ?? throw new KvmException(Errno.EFAULT, "KVM_TDX_GET_CPUID: no kvm_cpuid2");
        var entries = Vm.TdCpuid;
        bool room = output.Nent >= entries.Count;
        output.Nent = (uint)entries.Count;
        if (!room)
        {
            throw new KvmException(Errno.E2BIG, $"KVM_TDX_GET_CPUID: room for fewer than the {entries.Count} entries");
        }

        output.Entries = [.. entries];
    }
}
