using System.Runtime.InteropServices;

namespace CocoLaunch.Cpu.Tests;

/// <summary>VM creation and the per-mode segment and control registers (cpu-emulator.md §6.4, "64-bit setup").</summary>
internal sealed unsafe partial class RealCpu
{
    private const ulong Cr0Pe = 1 << 0;
    private const ulong Cr0Mp = 1 << 1;
    private const ulong Cr0Et = 1 << 4;
    private const ulong Cr0Pg = 1UL << 31;
    private const ulong Cr4Pae = 1 << 5;

    /// <summary>OSFXSR | OSXMMEXCPT: SSE instructions run instead of raising #UD.</summary>
    private const ulong Cr4Sse = 0x600;
    private const ulong EferLmeLma = 0x500;

    private static RealCpu Create(int kvm)
    {
        int version = KvmNative.Checked(kvm, KvmNative.KvmGetApiVersion, 0, "KVM_GET_API_VERSION");
        if (version != 12)
        {
            throw new InvalidOperationException($"KVM API version {version}, expected 12");
        }

        int vm = KvmNative.Checked(kvm, KvmNative.KvmCreateVm, 0, "KVM_CREATE_VM");
        nint mem = KvmNative.Mmap(0, (nuint)MemorySize, KvmNative.ProtRead | KvmNative.ProtWrite, KvmNative.MapShared | KvmNative.MapAnonymous | KvmNative.MapNoReserve, -1, 0);
        if (mem == KvmNative.MapFailed)
        {
            throw new InvalidOperationException($"mmap of guest memory failed: errno {Marshal.GetLastPInvokeError()}");
        }

        var region = new KvmUserspaceMemoryRegion { Slot = 0, GuestPhysAddr = 0, MemorySize = MemorySize, UserspaceAddr = (ulong)mem };
        KvmNative.Checked(vm, KvmNative.KvmSetUserMemoryRegion, &region, "KVM_SET_USER_MEMORY_REGION");
        int vcpu = KvmNative.Checked(vm, KvmNative.KvmCreateVcpu, 0, "KVM_CREATE_VCPU");
        int runSize = KvmNative.Checked(kvm, KvmNative.KvmGetVcpuMmapSize, 0, "KVM_GET_VCPU_MMAP_SIZE");
        nint run = KvmNative.Mmap(0, (nuint)runSize, KvmNative.ProtRead | KvmNative.ProtWrite, KvmNative.MapShared, vcpu, 0);
        if (run == KvmNative.MapFailed)
        {
            throw new InvalidOperationException($"mmap of kvm_run failed: errno {Marshal.GetLastPInvokeError()}");
        }

        SetSupportedCpuid(kvm, vcpu);
        KvmSregs baseline;
        KvmNative.Checked(vcpu, KvmNative.KvmGetSregs, &baseline, "KVM_GET_SREGS");
        RealCpuImage.Write(new Span<byte>((void*)mem, (int)MemorySize));
        return new RealCpu(kvm, vm, vcpu, (byte*)mem, (byte*)run, (nuint)runSize, baseline);
    }

    /// <summary>The guest sees the host's features, as §6.4 asks before the first KVM_RUN when SSE is enabled.</summary>
    private static void SetSupportedCpuid(int kvm, int vcpu)
    {
        int size = 8 + (KvmNative.MaxCpuidEntries * sizeof(KvmCpuidEntry2));
        byte* cpuid = (byte*)NativeMemory.AllocZeroed((nuint)size);
        try
        {
            *(uint*)cpuid = KvmNative.MaxCpuidEntries;
            KvmNative.Checked(kvm, KvmNative.KvmGetSupportedCpuid, cpuid, "KVM_GET_SUPPORTED_CPUID");
            KvmNative.Checked(vcpu, KvmNative.KvmSetCpuid2, cpuid, "KVM_SET_CPUID2");
        }
        finally
        {
            NativeMemory.Free(cpuid);
        }
    }

    private KvmSregs SregsFor(RealCpuMode mode)
    {
        var s = baseline;
        var tss = new KvmSegment { Base = RealCpuImage.Tss, Limit = 0x67, Selector = RealCpuImage.TssSelector, Type = 11, Present = 1 };
        var ldt = new KvmSegment { Type = 2, Present = 1, Unusable = 1 };
        s.Tr = tss;
        s.Ldt = ldt;
        s.Gdt = new KvmDtable { Base = RealCpuImage.Gdt, Limit = RealCpuImage.GdtLimit };
        s.Cr2 = 0;
        switch (mode)
        {
            case RealCpuMode.Long64 or RealCpuMode.Long64Kernel:
                bool user = mode == RealCpuMode.Long64;
                var code = Flat(user ? RealCpuImage.UserCode64Selector : RealCpuImage.Code64Selector, 11) with { L = 1, Db = 0 };
                SetSegments(ref s, code, Flat(user ? RealCpuImage.UserDataSelector : RealCpuImage.DataSelector, 3));
                s.Idt = new KvmDtable { Base = RealCpuImage.Idt64, Limit = (RealCpuImage.VectorCount * 16) - 1 };
                s.Cr0 = Cr0Pg | Cr0Et | Cr0Mp | Cr0Pe;
                s.Cr3 = RealCpuImage.Pml4;
                s.Cr4 = Cr4Pae | Cr4Sse;
                s.Efer = EferLmeLma;
                break;
            case RealCpuMode.Protected32 or RealCpuMode.Protected32Kernel:
                bool user32 = mode == RealCpuMode.Protected32;
                SetSegments(ref s, Flat(user32 ? RealCpuImage.UserCode32Selector : RealCpuImage.Code32Selector, 11), Flat(user32 ? RealCpuImage.UserDataSelector : RealCpuImage.DataSelector, 3));
                s.Tr = s.Tr with { Base = RealCpuImage.Tss32, Selector = RealCpuImage.Tss32Selector };
                s.Idt = new KvmDtable { Base = RealCpuImage.Idt32, Limit = (RealCpuImage.VectorCount * 8) - 1 };
                s.Cr0 = Cr0Et | Cr0Mp | Cr0Pe;
                s.Cr3 = 0;
                s.Cr4 = Cr4Sse;
                s.Efer = 0;
                break;
            default:
                SetSegments(ref s, Real(Real16CodeSegment, 11), Real(Real16DataSegment, 3));
                s.Idt = new KvmDtable { Base = RealCpuImage.Ivt, Limit = 0x3FF };
                s.Cr0 = Cr0Et | Cr0Mp;
                s.Cr3 = 0;
                s.Cr4 = Cr4Sse;
                s.Efer = 0;
                break;
        }

        return s;

        static KvmSegment Flat(ushort selector, byte type) => new() { Limit = 0xFFFF_FFFF, Selector = selector, Type = type, Present = 1, Dpl = (byte)(selector & 3), Db = 1, S = 1, G = 1 };

        static KvmSegment Real(ushort selector, byte type) => new() { Base = (ulong)selector << 4, Limit = 0xFFFF, Selector = selector, Type = type, Present = 1, S = 1 };
    }

    private static void SetSegments(ref KvmSregs s, KvmSegment code, KvmSegment data)
    {
        s.Cs = code;
        s.Ds = data;
        s.Es = data;
        s.Fs = data;
        s.Gs = data;
        s.Ss = data;
    }
}
