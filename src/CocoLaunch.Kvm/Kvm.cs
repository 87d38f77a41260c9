using CocoLaunch.Abi;
using CocoLaunch.Abi.Kvm;
using CocoLaunch.Memory;

namespace CocoLaunch.Kvm;

/// <summary>The <c>/dev/kvm</c> system fd, together with the process it is open in (fd table, host address space).</summary>
public sealed class Kvm
{
    public Kvm(KvmProfile? profile = null)
    {
        Profile = profile ?? KvmProfile.Upstream;
        Host = new HostAddressSpace { Limit = Profile.HostMemoryLimit is { } bytes ? new HostMemoryLimit(bytes) : null };
        Fd = Fds.Add(this);
    }

    public KvmProfile Profile { get; }

    public FdTable Fds { get; } = new();

    public HostAddressSpace Host { get; }

    public int Fd { get; }

    /// <summary>The machine's CPUID values as its PSP knows them, which SNP CPUID pages are checked against.</summary>
    public Firmware.Snp.SnpCpuidPolicy SnpCpuidPolicy { get; init; } = Firmware.Snp.SnpCpuidPolicy.Unrestricted;

    /// <summary>
    /// The SNP firmware model hashes the 4 KiB contents of a batch of pages on two cores; only the PAGE_INFO
    /// chain is sequential. Digests are the same either way; this is the emulator's choice, not a kernel
    /// behaviour. (TDX's MRTD is one SHA-384 stream with nothing independent to split: pipelining it onto a
    /// second core measured slower on a 2-core machine, 0.74 of raw SHA-384 against 0.82, so it is not done.)
    /// </summary>
    public bool ParallelPageHashing { get; init; } = true;

    /// <summary>KVM_CREATE_VM.</summary>
    public VmFd CreateVm(KvmVmType type)
    {
        if (!Enum.IsDefined(type))
        {
            throw new KvmException(Errno.EINVAL, $"VM type {(uint)type} is not supported");
        }

        return new VmFd(this, type);
    }

    /// <summary>KVM_CHECK_EXTENSION on the system fd.</summary>
    public ulong CheckExtension(KvmCap cap) => Capabilities.Check(this, vm: null, cap);
}
