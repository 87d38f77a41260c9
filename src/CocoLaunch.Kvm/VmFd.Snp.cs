using CocoLaunch.Abi;
using CocoLaunch.Abi.Kvm;
using CocoLaunch.Firmware.Snp;

namespace CocoLaunch.Kvm;

public sealed partial class VmFd
{
    /// <summary>KVM's fixed GPA for initial VMSAs (snp-launch-digest.md §2).</summary>
    public static readonly Gpa InitialVmsaGpa = new(0x0000_FFFF_FFFF_F000);

    /// <summary>The guest's context in the emulated SNP firmware, once KVM_SEV_SNP_LAUNCH_START has run.</summary>
    public SnpGuestContext? Snp { get; private set; }

    /// <summary>KVM_MEMORY_ENCRYPT_OP with a kvm_sev_cmd: the SNP launch commands (kvm-memory-model.md §10).</summary>
    public void MemoryEncryptOp(KvmSevCmd cmd)
    {
        if (Type is KvmVmType.Sev or KvmVmType.SevEs)
        {
            lock (slotsLock)
            {
                LegacySevCommand(cmd);
            }

            return;
        }

        if (Type != KvmVmType.Snp)
        {
            throw new KvmException(Errno.ENOTTY, $"SEV commands on a {Type} VM");
        }

        lock (slotsLock)
        {
            switch (cmd.Id)
            {
                case KvmSevCmdId.SnpLaunchStart:
                    SnpLaunchStart(cmd);
                    break;
                case KvmSevCmdId.SnpLaunchUpdate:
                    SnpLaunchUpdate(cmd);
                    break;
                case KvmSevCmdId.SnpLaunchFinish:
                    SnpLaunchFinish(cmd);
                    break;
                default:
                    throw new KvmException((uint)cmd.Id < 100 ? Errno.EPERM : Errno.EINVAL, $"SEV command {(uint)cmd.Id} is not an SNP launch command");
            }
        }
    }

    private void SnpLaunchStart(KvmSevCmd cmd)
    {
        var start = cmd.Data as KvmSevSnpLaunchStart? ?? throw new KvmException(Errno.EFAULT, "KVM_SEV_SNP_LAUNCH_START: no data");
        if (Snp is not null || start.Flags != 0)
        {
            throw new KvmException(Errno.EINVAL, "KVM_SEV_SNP_LAUNCH_START: a context exists, or flags are not 0");
        }

        ulong p = start.Policy;
        if ((p & ~SnpPolicyBits.KvmValidMask) != 0 || (p & SnpPolicyBits.ReservedMustBeOne) == 0 || (p & SnpPolicyBits.Smt) == 0 || (p & SnpPolicyBits.SingleSocket) != 0)
        {
            throw new KvmException(Errno.EINVAL, $"KVM_SEV_SNP_LAUNCH_START: policy 0x{p:x} (needs bits 16 and 17, refuses 20 and unknown bits)");
        }

        var context = new SnpGuestContext(MeasurementLog, Kvm.SnpCpuidPolicy);
        try
        {
            context.LaunchStart(p);
        }
        catch (SnpFirmwareException e)
        {
            cmd.Error = (uint)e.Status;
            throw new KvmException(Errno.EIO, e.Message);
        }

        Snp = context;
    }

    /// <summary>
    /// KVM_SEV_SNP_LAUNCH_UPDATE: per 4 KiB page of a private guest_memfd range, copy the source (not for ZERO)
    /// into the page and have the firmware measure it. Progress is written back; a failure before any page is EIO.
    /// </summary>
    private void SnpLaunchUpdate(KvmSevCmd cmd)
    {
        var u = cmd.Data as KvmSevSnpLaunchUpdate? ?? throw new KvmException(Errno.EFAULT, "KVM_SEV_SNP_LAUNCH_UPDATE: no data");
        var type = (SnpPageType)u.Type;
        if (Snp is null || u.Len % Page != 0 || u.Flags != 0 || type is not (SnpPageType.Normal or SnpPageType.Zero or SnpPageType.Unmeasured or SnpPageType.Secrets or SnpPageType.Cpuid))
        {
            throw new KvmException(Errno.EINVAL, $"KVM_SEV_SNP_LAUNCH_UPDATE: no context, or len 0x{u.Len:x} / flags {u.Flags} / type {u.Type} invalid");
        }

        var slot = slots.Find(u.GfnStart);
        if (slot is not { BoundToGmem: true, GuestMemfd: not null })
        {
            throw new KvmException(Errno.EINVAL, $"gfn 0x{u.GfnStart:x} is not in a guest_memfd memslot");
        }

        ulong pages = Math.Min(u.Len / Page, slot.EndGfn - u.GfnStart);
        var source = new byte[Page];
        ulong done = 0;
        string? failure = null;
        for (; done < pages; done++)
        {
            ulong gfn = u.GfnStart + done;
            if (!AttributesOf(gfn).HasFlag(KvmMemoryAttributes.Private))
            {
                failure = $"gfn 0x{gfn:x} is not PRIVATE";
                break;
            }

            if (type == SnpPageType.Zero)
            {
                Array.Clear(source);
            }
            else
            {
                try
                {
                    Kvm.Host.Read(new Memory.Hva(u.Uaddr + (done * Page)), source);
                }
                catch (Memory.HostFaultException e)
                {
                    failure = $"the source page at 0x{u.Uaddr + (done * Page):x} cannot be read: {e.Message}";
                    break;
                }
            }

            try
            {
                if (type == SnpPageType.Cpuid)
                {
                    Snp.LaunchUpdateCpuid(new Gpa(gfn * Page), source);
                }
                else
                {
                    Snp.LaunchUpdate(type, new Gpa(gfn * Page), source);
                }
            }
            catch (SnpFirmwareException e)
            {
                cmd.Error = (uint)e.Status;
                failure = e.Message;
                if (type == SnpPageType.Cpuid && e.Status == SnpStatus.InvalidParam)
                {
                    // The firmware left its corrected CPUID values in the page; KVM hands them back through the
                    // source buffer so the VMM can diff them. A failed copy-back does not change the outcome.
                    TryCopyToUser(new Memory.Hva(u.Uaddr + (done * Page)), source);
                }

                break;
            }

            slot.GuestMemfd.Pages.Write(((slot.GuestMemfdPgoff + (gfn - slot.BaseGfn)) * Page), source);
        }

        if (done == 0 && failure is not null)
        {
            throw new KvmException(Errno.EIO, $"KVM_SEV_SNP_LAUNCH_UPDATE: {failure}");
        }

        u.GfnStart += done;
        u.Len -= done * Page;
        if (type != SnpPageType.Zero)
        {
            u.Uaddr += done * Page;
        }

        cmd.Data = u;
    }

    private byte[] CopyFromUser(ulong address, int length, string field)
    {
        var bytes = new byte[length];
        try
        {
            Kvm.Host.Read(new Memory.Hva(address), bytes);
        }
        catch (Memory.HostFaultException e)
        {
            throw new KvmException(Errno.EFAULT, $"KVM_SEV_SNP_LAUNCH_FINISH: {field} 0x{address:x}: {e.Message}");
        }

        return bytes;
    }

    private void TryCopyToUser(Memory.Hva address, ReadOnlySpan<byte> bytes)
    {
        try
        {
            Kvm.Host.Write(address, bytes);
        }
        catch (Memory.HostFaultException)
        {
        }
    }

    /// <summary>KVM_SEV_SNP_LAUNCH_FINISH: every vCPU's VMSA is measured (vCPU 0 first), then the launch closes.</summary>
    private void SnpLaunchFinish(KvmSevCmd cmd)
    {
        var finish = cmd.Data as KvmSevSnpLaunchFinish? ?? default;
        if (Snp is null || finish.Flags != 0)
        {
            throw new KvmException(Errno.EINVAL, "KVM_SEV_SNP_LAUNCH_FINISH: no context, or flags are not 0");
        }

        byte[]? idBlock = null, idAuth = null;
        if (finish.IdBlockEn != 0)
        {
            idBlock = CopyFromUser(finish.IdBlockUaddr, IdBlock.Size, "id_block_uaddr");
            idAuth = CopyFromUser(finish.IdAuthUaddr, IdAuth.Size, "id_auth_uaddr");
        }

        try
        {
            foreach (var vcpu in VcpusInOrder())
            {
                var vmsa = vcpu.SevEsSaveArea ?? throw new KvmException(Errno.EINVAL, $"vCPU {vcpu.Id} has no VMSA");
                Snp.LaunchUpdate(SnpPageType.Vmsa, InitialVmsaGpa, vmsa);
            }

            Snp.LaunchFinish(idBlock, idAuth, finish.AuthKeyEn != 0);
        }
        catch (SnpFirmwareException e)
        {
            cmd.Error = (uint)e.Status;
            throw new KvmException(Errno.EIO, e.Message);
        }

        PrivateMemoryPrepare ??= new SnpRmpPrepare(Snp);
        AllowPreFault();
    }

    private List<VcpuFd> VcpusInOrder()
    {
        lock (vcpus)
        {
            return [.. vcpus.OrderBy(v => v.Key).Select(v => v.Value)];
        }
    }
}
