using CocoLaunch.Abi;
using CocoLaunch.Abi.Kvm;
using CocoLaunch.Firmware.Snp;

namespace CocoLaunch.Kvm;

public sealed partial class VmFd
{
    /// <summary>KVM's fixed GPA for initial VMSAs (snp-launch-digest.md §2).</summary>
    public static readonly Gpa InitialVmsaGpa = new(0x0000_FFFF_FFFF_F000);

    // Pages read and handed to the firmware model together (256 KiB), so it can hash them on two cores.
    private const ulong SnpUpdateBatchPages = 64;

    /// <summary>The guest's context in the emulated SNP firmware, once KVM_SEV_SNP_LAUNCH_START has run.</summary>
    public SnpGuestContext? Snp { get; private set; }

    /// <summary>
    /// KVM_MEMORY_ENCRYPT_OP with a kvm_sev_cmd, in the order of <c>sev_mem_enc_ioctl</c> (arch/x86/kvm/svm/sev.c):
    /// a NULL argument is a no-op returning 0; an SNP VM refuses every legacy id (below 100) with EPERM; each
    /// command then checks the VM type itself (ENOTTY, or EINVAL for SNP_LAUNCH_UPDATE); an unknown id is EINVAL.
    /// </summary>
    /// <param name="signal">Plays a pending signal: a populate loop stops at the next page (kvm_gmem_populate).</param>
    public void MemoryEncryptOp(KvmSevCmd? cmd, CancellationToken signal = default)
    {
        ThrowIfDead();
        if (cmd is null)
        {
            return; // sev_mem_enc_ioctl: "if (!argp) return 0;"
        }

        if (Type is not (KvmVmType.Sev or KvmVmType.SevEs or KvmVmType.Snp))
        {
            // Not an SEV-family VM: the model treats the host as the VM's vendor, so there is no SEV dispatcher.
            throw new KvmException(Errno.ENOTTY, $"SEV commands on a {Type.Name()} VM");
        }

        lock (slotsLock)
        {
            if (Type == KvmVmType.Snp && (uint)cmd.Id < (uint)KvmSevCmdId.SnpLaunchStart)
            {
                throw new KvmException(Errno.EPERM, $"SEV command {(uint)cmd.Id} is a legacy command; an SNP VM takes only SNP commands");
            }

            switch (cmd.Id)
            {
                case KvmSevCmdId.LaunchStart or KvmSevCmdId.LaunchUpdateData or KvmSevCmdId.LaunchUpdateVmsa or KvmSevCmdId.LaunchMeasure:
                    LegacySevCommand(cmd);
                    break;
                case KvmSevCmdId.SnpLaunchStart:
                    SnpLaunchStart(cmd);
                    break;
                case KvmSevCmdId.SnpLaunchUpdate:
                    SnpLaunchUpdate(cmd, signal);
                    break;
                case KvmSevCmdId.SnpLaunchFinish:
                    SnpLaunchFinish(cmd);
                    break;
                default:
                    throw new KvmException(Errno.EINVAL, $"SEV command {(uint)cmd.Id} is not supported");
            }
        }
    }

    /// <summary>
    /// KVM_SEV_SNP_LAUNCH_START, checks in the order of <c>snp_launch_start</c>: not SNP → ENOTTY; copy → EFAULT;
    /// a context exists → EINVAL; flags → EINVAL; policy bits outside KVM's mask → EINVAL; RSVD_MBO clear →
    /// EINVAL; (snp-smt-strict) SMT clear → EINVAL; SINGLE_SOCKET → EINVAL; then the firmware.
    /// </summary>
    private void SnpLaunchStart(KvmSevCmd cmd)
    {
        if (Type != KvmVmType.Snp)
        {
            throw new KvmException(Errno.ENOTTY, $"KVM_SEV_SNP_LAUNCH_START on a {Type.Name()} VM");
        }

        var start = cmd.Data as KvmSevSnpLaunchStart? ?? throw new KvmException(Errno.EFAULT, "KVM_SEV_SNP_LAUNCH_START: no data");
        if (Snp is not null)
        {
            throw new KvmException(Errno.EINVAL, "KVM_SEV_SNP_LAUNCH_START: an SNP context already exists");
        }

        if (start.Flags != 0)
        {
            throw new KvmException(Errno.EINVAL, $"KVM_SEV_SNP_LAUNCH_START: flags 0x{start.Flags:x} must be 0");
        }

        ulong p = start.Policy;
        if ((p & ~SnpPolicyBits.KvmValidMask) != 0)
        {
            throw new KvmException(Errno.EINVAL, $"KVM_SEV_SNP_LAUNCH_START: policy 0x{p:x} has bits outside 0x{SnpPolicyBits.KvmValidMask:x}");
        }

        if ((p & SnpPolicyBits.ReservedMustBeOne) == 0 || (Kvm.Profile.SnpSmtStrict && (p & SnpPolicyBits.Smt) == 0))
        {
            throw new KvmException(Errno.EINVAL, $"KVM_SEV_SNP_LAUNCH_START: policy 0x{p:x} lacks a must-be-set bit (17{(Kvm.Profile.SnpSmtStrict ? ", 16" : "")})");
        }

        if ((p & SnpPolicyBits.SingleSocket) != 0)
        {
            throw new KvmException(Errno.EINVAL, $"KVM_SEV_SNP_LAUNCH_START: policy 0x{p:x} asks for SINGLE_SOCKET, which KVM does not support");
        }

        var context = new SnpGuestContext(MeasurementLog, Kvm.SnpCpuidPolicy) { ParallelContents = Kvm.ParallelPageHashing };
        try
        {
            context.LaunchStart(p, Kvm.Profile.HostSmtActive);
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
    private void SnpLaunchUpdate(KvmSevCmd cmd, CancellationToken signal)
    {
        // snp_launch_update: "not SNP or no context" comes before the copy, and is EINVAL (not ENOTTY).
        if (Type != KvmVmType.Snp || Snp is null)
        {
            throw new KvmException(Errno.EINVAL, $"KVM_SEV_SNP_LAUNCH_UPDATE: {(Type != KvmVmType.Snp ? $"a {Type.Name()} VM" : "no KVM_SEV_SNP_LAUNCH_START")}");
        }

        var u = cmd.Data as KvmSevSnpLaunchUpdate? ?? throw new KvmException(Errno.EFAULT, "KVM_SEV_SNP_LAUNCH_UPDATE: no data");
        var type = (SnpPageType)u.Type;
        if (u.Len % Page != 0 || u.Flags != 0 || type is not (SnpPageType.Normal or SnpPageType.Zero or SnpPageType.Unmeasured or SnpPageType.Secrets or SnpPageType.Cpuid))
        {
            throw new KvmException(Errno.EINVAL, $"KVM_SEV_SNP_LAUNCH_UPDATE: len 0x{u.Len:x} / flags {u.Flags} / type {u.Type} invalid");
        }

        var slot = slots.Find(u.GfnStart);
        if (slot is not { BoundToGmem: true, GuestMemfd: not null })
        {
            throw new KvmException(Errno.EINVAL, $"gfn 0x{u.GfnStart:x} is not in a guest_memfd memslot");
        }

        ulong pages = Math.Min(u.Len / Page, slot.EndGfn - u.GfnStart);
        var batch = new byte[Math.Min(pages, SnpUpdateBatchPages) * Page];
        var sources = new List<ReadOnlyMemory<byte>>(batch.Length / (int)Page);
        ulong done = 0;
        string? failure = null;
        while (done < pages && failure is null)
        {
            // Sources for the next pages first, up to the first page that cannot be used; the firmware then
            // measures them in order. CPUID pages go one at a time: the firmware may rewrite them.
            int n = 0;
            ulong inPlace = 0; // a bit per source read in place from a file mapping (a batch has at most 64 pages)
            sources.Clear();
            while (n < batch.Length / (int)Page && done + (ulong)n < pages)
            {
                if (signal.IsCancellationRequested)
                {
                    failure = "a signal is pending"; // internally EINTR: EIO with no page done, else partial progress
                    break;
                }

                ulong gfn = u.GfnStart + done + (ulong)n;
                ReadOnlyMemory<byte> copy = batch.AsMemory(n * (int)Page, (int)Page), page = copy;
                failure = ReadSnpSource(type, gfn, u.Uaddr + ((done + (ulong)n) * Page), ref page);
                if (failure is not null)
                {
                    break;
                }

                if (!page.Equals(copy))
                {
                    inPlace |= 1UL << n;
                }

                sources.Add(page);
                n++;
                if (type == SnpPageType.Cpuid)
                {
                    break;
                }
            }

            int before = Snp.Updates;
            try
            {
                if (type == SnpPageType.Cpuid && n == 1)
                {
                    Snp.LaunchUpdateCpuid(new Gpa((u.GfnStart + done) * Page), batch.AsSpan(0, (int)Page));
                }
                else if (n > 0)
                {
                    Snp.LaunchUpdateRange(type, new Gpa((u.GfnStart + done) * Page), sources);
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
                    TryCopyToUser(new Memory.Hva(u.Uaddr + (done * Page)), batch.AsSpan(0, (int)Page));
                }
            }

            int measured = Snp.Updates - before;
            for (int i = 0; i < measured; i++)
            {
                ulong gfn = u.GfnStart + done + (ulong)i;
                ulong offset = (slot.GuestMemfdPgoff + (gfn - slot.BaseGfn)) * Page;
                if (type == SnpPageType.Secrets)
                {
                    // A SECRETS page is the firmware's: it writes the VMPCKs there, whatever the VMM supplied.
                    slot.GuestMemfd.Pages.Write(offset, Snp.SecretsPage());
                }
                else if ((inPlace & (1UL << i)) != 0)
                {
                    // The same bytes as a copy, without one: a file mapping's bytes never change, so the firmware
                    // image is held once, not once more in guest_memfd (the page copies them when first written).
                    slot.GuestMemfd.Pages.Lend(offset, sources[i]);
                }
                else
                {
                    slot.GuestMemfd.Pages.Write(offset, sources[i].Span);
                }
            }

            done += (ulong)measured;
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

    /// <summary>
    /// One update's source page: zeros for ZERO pages, the file's own bytes when the source lies in a file
    /// mapping (read in place), otherwise a copy into <paramref name="page"/>. A reason when the page cannot be updated.
    /// </summary>
    private string? ReadSnpSource(SnpPageType type, ulong gfn, ulong uaddr, ref ReadOnlyMemory<byte> page)
    {
        if (!AttributesOf(gfn).HasFlag(KvmMemoryAttributes.Private))
        {
            return $"gfn 0x{gfn:x} is not PRIVATE";
        }

        var buffer = System.Runtime.InteropServices.MemoryMarshal.AsMemory(page);
        if (type == SnpPageType.Zero)
        {
            buffer.Span.Clear();
            return null;
        }

        if (type != SnpPageType.Cpuid && Kvm.Host.TryGetFileBytes(new Memory.Hva(uaddr), (int)Page, out var inPlace))
        {
            page = inPlace;
            return null;
        }

        try
        {
            Kvm.Host.Read(new Memory.Hva(uaddr), buffer.Span);
            return null;
        }
        catch (Memory.HostFaultException e)
        {
            return $"the source page at 0x{uaddr:x} cannot be read: {e.Message}";
        }
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
        // snp_launch_finish: not SNP → ENOTTY; no context → EINVAL; copy → EFAULT; flags → EINVAL.
        if (Type != KvmVmType.Snp)
        {
            throw new KvmException(Errno.ENOTTY, $"KVM_SEV_SNP_LAUNCH_FINISH on a {Type.Name()} VM");
        }

        if (Snp is null)
        {
            throw new KvmException(Errno.EINVAL, "KVM_SEV_SNP_LAUNCH_FINISH: no KVM_SEV_SNP_LAUNCH_START");
        }

        var finish = cmd.Data as KvmSevSnpLaunchFinish? ?? throw new KvmException(Errno.EFAULT, "KVM_SEV_SNP_LAUNCH_FINISH: no data");
        if (finish.Flags != 0)
        {
            throw new KvmException(Errno.EINVAL, $"KVM_SEV_SNP_LAUNCH_FINISH: flags 0x{finish.Flags:x} must be 0");
        }

        try
        {
            // snp_launch_update_vmsa runs before the ID block is read: a bad id_block_uaddr fails with EFAULT
            // after every VMSA has been measured.
            var vmsas = VcpusInOrder().Select(v => v.SevEsSaveArea ?? throw new KvmException(Errno.EINVAL, $"vCPU {v.Id} has no VMSA")).ToList();
            Snp.LaunchUpdateVmsas(InitialVmsaGpa, vmsas);

            byte[]? idBlock = null, idAuth = null;
            if (finish.IdBlockEn != 0)
            {
                idBlock = CopyFromUser(finish.IdBlockUaddr, IdBlock.Size, "id_block_uaddr");
                idAuth = CopyFromUser(finish.IdAuthUaddr, IdAuth.Size, "id_auth_uaddr");
            }

            Snp.LaunchFinish(idBlock, idAuth, finish.AuthKeyEn != 0);
        }
        catch (SnpFirmwareException e)
        {
            cmd.Error = (uint)e.Status;
            throw new KvmException(Errno.EIO, e.Message);
        }

        if (finish.HostData is { Length: 32 } hostData)
        {
            Snp.HostData = hostData.ToArray();
        }

        PrivateMemoryPrepare ??= new SnpRmpPrepare(Snp);
        // A zap of private memory gives the pages back to the hypervisor in the RMP (RMPUPDATE on conversion).
        var snp = Snp;
        Mmu.PrivateZapped = (gfn, count) => snp.Rmp.ReclaimRange(new Gpa(gfn * Page), count * Page);
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
