using CocoLaunch.Abi;
using CocoLaunch.Abi.Kvm;
using CocoLaunch.Firmware.Snp;
using CocoLaunch.Kvm;
using CocoLaunch.Memory;
using CocoLaunch.Tests.Shared;

namespace CocoLaunch.Vmm.Tests.ApiSequences;

/// <summary>The VM flavours a sequence is drawn over: the four KVM VM types, plus SW_PROTECTED with in-place conversion.</summary>
internal enum SequenceVmKind
{
    Default,
    SwProtected,
    SwProtectedInPlace,
    Tdx,
    Snp,
}

/// <summary>
/// One VM of one random sequence, and everything the operations draw on: its vCPUs, its guest_memfd files, one host
/// region per slot id (so a re-created slot can keep its userspace address and be moved), and launch sources.
/// </summary>
internal sealed class SequenceVm
{
    public const ulong K4 = PageSize.Size4K;
    public const ulong M2 = PageSize.Size2M;

    /// <summary>The GPA window the operations aim at: four 2M regions above 4 GiB.</summary>
    public const ulong Base = 0x1_0000_0000;

    public const ulong WindowPages = 2048;

    public const int SlotIds = 4;

    public const ulong GmemBytes = 4 * M2;

    public const ulong HostRegionBytes = 4 * M2 + K4;

    private readonly object fdLock = new();
    private readonly int[] gmemFds;

    public SequenceVm(SequenceVmKind kind, Random random)
    {
        Kind = kind;
        var profile = kind == SequenceVmKind.SwProtectedInPlace ? KvmProfile.Upstream with { GmemInPlaceConversion = true } : KvmProfile.Upstream;
        Vm = new Kvm.Kvm(profile).CreateVm(kind switch
        {
            SequenceVmKind.Default => KvmVmType.Default,
            SequenceVmKind.Tdx => KvmVmType.Tdx,
            SequenceVmKind.Snp => KvmVmType.Snp,
            _ => KvmVmType.SwProtected,
        }).WithTdIrqchip();

        HostRegions = [.. Enumerable.Range(0, SlotIds).Select(_ => Vm.Kvm.Host.Map(HostRegionBytes))];
        Source = Vm.Kvm.Host.Map(16 * K4);
        var pattern = new byte[16 * K4];
        random.NextBytes(pattern);
        Vm.Kvm.Host.Write(Source, pattern);
        gmemFds = [CreateGmem(random), CreateGmem(random)];

        switch (kind)
        {
            case SequenceVmKind.Tdx when random.Next(2) == 0:
                Vcpus.Add(Vm.RunnableTdLikeTdSetup());
                Vcpus.Add(TdxVcpu(1, init: false)); // created after INIT_VM; INIT_VCPU refused once finalized
                break;
            case SequenceVmKind.Tdx:
                // Launch left to the operations: INIT_VM done here (vCPUs may only come after it), the rest random.
                Vm.MemoryEncryptOp(new KvmTdxCmd { Id = KvmTdxCmdId.InitVm, Data = new KvmTdxInitVm { Attributes = 0x1000_0000, Xfam = 0x602E7, Cpuid = [KvmTdxInitVm.GuestPhysBits(48)] } });
                Vcpus.Add(TdxVcpu(0, init: random.Next(2) == 0));
                Vcpus.Add(TdxVcpu(1, init: false));
                break;
            case SequenceVmKind.Snp:
                for (uint id = 0; id < 2; id++)
                {
                    var vcpu = Vm.CreateVcpu(id);
                    vcpu.SevEsSaveArea = Vmsa.Build(Vmsa.BspResetEip, VmsaProfile.Qemu, 0x800F12, 1);
                    Vcpus.Add(vcpu);
                }

                break;
            default:
                Vcpus.Add(Vm.CreateVcpu(0));
                Vcpus.Add(Vm.CreateVcpu(1));
                break;
        }

        if (random.Next(4) != 0)
        {
            Vm.EnableCap(new KvmEnableCap { Cap = KvmCap.ExitHypercall, Arg0 = KvmLimits.ExitHypercallValidMask });
        }
    }

    public SequenceVmKind Kind { get; }

    public VmFd Vm { get; }

    public List<VcpuFd> Vcpus { get; } = [];

    public Hva[] HostRegions { get; }

    /// <summary>Patterned host pages: the source of TDX INIT_MEM_REGION and SNP LAUNCH_UPDATE.</summary>
    public Hva Source { get; }

    public bool HasPrivateMemory => Kind != SequenceVmKind.Default;

    public bool InPlace => Kind == SequenceVmKind.SwProtectedInPlace;

    public bool Confidential => Kind is SequenceVmKind.Tdx or SequenceVmKind.Snp;

    /// <summary>The TDX shared bit (GPAW 48), or 0.</summary>
    public ulong SharedBit => Kind == SequenceVmKind.Tdx ? 1UL << 47 : 0;

    public int GmemFd(int index)
    {
        lock (fdLock)
        {
            return gmemFds[index];
        }
    }

    public GuestMemfd? Gmem(int index)
    {
        try
        {
            return Vm.Kvm.Fds.Get<GuestMemfd>(GmemFd(index));
        }
        catch (KvmException)
        {
            return null;
        }
    }

    /// <summary>close(2) of a guest_memfd and a fresh one in its place (KVM_CREATE_GUEST_MEMFD).</summary>
    public void ReplaceGmem(int index, Random random)
    {
        int old;
        lock (fdLock)
        {
            old = gmemFds[index];
            gmemFds[index] = -1;
        }

        try
        {
            Vm.Kvm.Fds.Close(old);
        }
        finally
        {
            int fresh = CreateGmemOrMinusOne(random);
            lock (fdLock)
            {
                gmemFds[index] = fresh;
            }
        }
    }

    private int CreateGmemOrMinusOne(Random random)
    {
        try
        {
            return CreateGmem(random);
        }
        catch (KvmException)
        {
            return -1; // the VM died (TDX TERMINATE_VM, a bugged VM): its slots can no longer change anyway
        }
    }

    private int CreateGmem(Random random)
    {
        var flags = Kind switch
        {
            SequenceVmKind.SwProtectedInPlace => GuestMemfdFlags.SupportShared | (random.Next(2) == 0 ? GuestMemfdFlags.InitPrivate : 0),
            SequenceVmKind.Default => random.Next(2) == 0 ? GuestMemfdFlags.Mmap | GuestMemfdFlags.InitShared : GuestMemfdFlags.None,
            _ => GuestMemfdFlags.None,
        };
        return Vm.CreateGuestMemfd(new KvmCreateGuestMemfd { Size = GmemBytes, Flags = flags });
    }

    private VcpuFd TdxVcpu(uint id, bool init)
    {
        var vcpu = Vm.CreateVcpu(id);
        if (init)
        {
            vcpu.MemoryEncryptOp(new KvmTdxCmd { Id = KvmTdxCmdId.InitVcpu, Data = 0UL });
        }

        return vcpu;
    }
}

internal static class SequenceVmExtensions
{
    /// <summary><see cref="Tests.Shared.TdSetup.RunnableTd"/>: INIT_VM, vCPU 0 with INIT_VCPU, FINALIZE_VM.</summary>
    public static VcpuFd RunnableTdLikeTdSetup(this VmFd vm) => CocoLaunch.Tests.Shared.TdSetup.RunnableTd(vm);
}
