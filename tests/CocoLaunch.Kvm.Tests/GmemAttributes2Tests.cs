using CocoLaunch.Abi;
using CocoLaunch.Abi.Kvm;
using CocoLaunch.Memory;
using static CocoLaunch.Kvm.Tests.KvmSetup;

namespace CocoLaunch.Kvm.Tests;

/// <summary>
/// KVM_SET_MEMORY_ATTRIBUTES2 on the guest_memfd fd under the attributes series v8 (kvm-memory-model.md §11.2, case
/// 151): the argument checks in order, the content modes, EAGAIN for a pinned page, and whole-or-nothing conversion.
/// </summary>
public sealed class GmemAttributes2Tests
{
    private const ulong G = 0x1_0000_0000;

    private static (VmFd Vm, GuestMemfd Gmem) File(KvmVmType type = KvmVmType.SwProtected, KvmProfile? profile = null)
    {
        var vm = Vm(type, profile ?? KvmProfile.GmemAttributes2V8);
        var gmem = vm.GmemFile(vm.Gmem(4 * K4, GuestMemfdFlags.SupportShared));
        return (vm, gmem);
    }

    private static Errno Set(GuestMemfd gmem, ref KvmMemoryAttributes2 args)
    {
        try
        {
            gmem.SetMemoryAttributes2(ref args);
            return 0;
        }
        catch (KvmException e)
        {
            return e.Errno;
        }
    }

    private static KvmMemoryAttributes2 Args(ulong offset, ulong size, bool toPrivate, ulong flags = 0) =>
        new() { Offset = offset, Size = size, Attributes = toPrivate ? KvmMemoryAttributes.Private : 0, Flags = flags };

    [Fact]
    public void KvmGmemSetAttributes2_SeriesDisabled_Enotty()
    {
        var (_, gmem) = File(profile: KvmProfile.Upstream with { GmemInPlaceConversion = true });
        var args = Args(0, K4, toPrivate: true);
        Assert.Equal(Errno.ENOTTY, Set(gmem, ref args));
    }

    [Theory]
    [InlineData(0UL, 4096UL, 3UL, 8UL, Errno.EINVAL)] // ZERO | PRESERVE
    [InlineData(0UL, 4096UL, 4UL, 8UL, Errno.EINVAL)] // an unknown flag
    [InlineData(0UL, 4096UL, 0UL, 1UL, Errno.EINVAL)] // attributes other than PRIVATE
    [InlineData(0UL, 0UL, 0UL, 8UL, Errno.EINVAL)] // size 0: unlike the RFC's no-op
    [InlineData(0x800UL, 4096UL, 0UL, 8UL, Errno.EINVAL)] // unaligned
    [InlineData(4 * 4096UL, 4096UL, 0UL, 8UL, Errno.EINVAL)] // offset at the end of the file
    [InlineData(3 * 4096UL, 2 * 4096UL, 0UL, 8UL, Errno.EINVAL)] // past the end
    public void KvmGmemSetAttributes2_ArgumentChecks(ulong offset, ulong size, ulong flags, ulong attributes, Errno errno)
    {
        var (_, gmem) = File();
        var args = new KvmMemoryAttributes2 { Offset = offset, Size = size, Flags = flags, Attributes = (KvmMemoryAttributes)attributes };
        Assert.Equal(errno, Set(gmem, ref args));
    }

    [Fact]
    public void KvmGmemSetAttributes2_ReservedOrErrorOffsetOnInput_Einval()
    {
        var (_, gmem) = File();
        var reserved = Args(0, K4, toPrivate: true) with { Reserved = [1] };
        Assert.Equal(Errno.EINVAL, Set(gmem, ref reserved));
        var error = Args(0, K4, toPrivate: true) with { ErrorOffset = K4 };
        Assert.Equal(Errno.EINVAL, Set(gmem, ref error));
    }

    [Fact]
    public void KvmGmemSetAttributes2_VmWithoutPrivateMemory_Einval()
    {
        var (_, gmem) = File(KvmVmType.Default);
        var args = Args(0, K4, toPrivate: true);
        Assert.Equal(Errno.EINVAL, Set(gmem, ref args));
    }

    [Fact]
    public void KvmGmemSetAttributes2_ZeroToPrivate_EopnotsuppNamingTheStart()
    {
        var (_, gmem) = File();
        var args = Args(K4, K4, toPrivate: true, KvmMemoryAttributes2.FlagZero);
        Assert.Equal(Errno.EOPNOTSUPP, Set(gmem, ref args));
        Assert.Equal(K4, args.ErrorOffset);
    }

    [Fact]
    public void KvmGmemSetAttributes2_PreserveOnTdx_Eopnotsupp()
    {
        var (_, gmem) = File(KvmVmType.Tdx);
        var args = Args(0, K4, toPrivate: true, KvmMemoryAttributes2.FlagPreserve);
        Assert.Equal(Errno.EOPNOTSUPP, Set(gmem, ref args));
    }

    /// <summary>To private, then back to shared with ZERO: the allocated page reads zeros; PRESERVE keeps it.</summary>
    [Fact]
    public void KvmGmemSetAttributes2_ContentModes()
    {
        var (_, gmem) = File();
        gmem.Pages.Write(0, [0x5A]);
        gmem.Pages.Write(K4, [0x6B]);
        var toPrivate = Args(0, 2 * K4, toPrivate: true);
        gmem.SetMemoryAttributes2(ref toPrivate);
        Assert.True(gmem.IsUniform(0, 2, isPrivate: true));

        var zero = Args(0, K4, toPrivate: false, KvmMemoryAttributes2.FlagZero);
        gmem.SetMemoryAttributes2(ref zero);
        var preserve = Args(K4, K4, toPrivate: false, KvmMemoryAttributes2.FlagPreserve);
        gmem.SetMemoryAttributes2(ref preserve);
        var page = new byte[1];
        gmem.Pages.Read(0, page);
        Assert.Equal(0, page[0]);
        gmem.Pages.Read(K4, page);
        Assert.Equal(0x6B, page[0]);
        Assert.True(gmem.IsUniform(0, 2, isPrivate: false));
    }

    /// <summary>A host pin on one page fails the whole conversion with EAGAIN naming it; nothing changed state.</summary>
    [Fact]
    public void KvmGmemSetAttributes2_PinnedPage_EagainNothingConverted()
    {
        var (vm, gmem) = File();
        var host = vm.Kvm.Host.MapGuestMemfd(gmem, 0, 4 * K4, shared: true);
        vm.Kvm.Host.Pin(new Hva(host.Value + (2 * K4)));
        var args = Args(0, 4 * K4, toPrivate: true);
        Assert.Equal(Errno.EAGAIN, Set(gmem, ref args));
        Assert.Equal(2 * K4, args.ErrorOffset);
        Assert.True(gmem.IsUniform(0, 4, isPrivate: false));
    }
}
