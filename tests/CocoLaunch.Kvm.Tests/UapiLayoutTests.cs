using System.Buffers.Binary;
using CocoLaunch.Abi.Kvm;

namespace CocoLaunch.Kvm.Tests;

/// <summary>ioctl numbers and struct layouts against the table in kvm-memory-model.md §1.1 and §1.4.</summary>
public sealed class UapiLayoutTests
{
    public static TheoryData<string, uint, uint> Ioctls => new()
    {
        { "KVM_CREATE_VM", KvmIoctl.CreateVm, 0x0000AE01 },
        { "KVM_CHECK_EXTENSION", KvmIoctl.CheckExtension, 0x0000AE03 },
        { "KVM_CREATE_VCPU", KvmIoctl.CreateVcpu, 0x0000AE41 },
        { "KVM_SET_USER_MEMORY_REGION", KvmIoctl.SetUserMemoryRegion, 0x4020AE46 },
        { "KVM_SET_USER_MEMORY_REGION2", KvmIoctl.SetUserMemoryRegion2, 0x40A0AE49 },
        { "KVM_RUN", KvmIoctl.Run, 0x0000AE80 },
        { "KVM_ENABLE_CAP", KvmIoctl.EnableCap, 0x4068AEA3 },
        { "KVM_MEMORY_ENCRYPT_OP", KvmIoctl.MemoryEncryptOp, 0xC008AEBA },
        { "KVM_SET_MEMORY_ATTRIBUTES", KvmIoctl.SetMemoryAttributes, 0x4020AED2 },
        { "KVM_CREATE_GUEST_MEMFD", KvmIoctl.CreateGuestMemfd, 0xC040AED4 },
        { "KVM_PRE_FAULT_MEMORY", KvmIoctl.PreFaultMemory, 0xC040AED5 },
        { "KVM_GMEM_CONVERT_SHARED", KvmIoctl.GmemConvertShared, 0xC040AF41 },
        { "KVM_GMEM_CONVERT_PRIVATE", KvmIoctl.GmemConvertPrivate, 0xC040AF42 },
    };

    [Theory]
    [MemberData(nameof(Ioctls))]
    public void IoctlNumber_MatchesTheKernelEncoding(string name, uint actual, uint expected) => Assert.True(actual == expected, $"{name}: 0x{actual:X8} != 0x{expected:X8}");

    [Fact]
    public void MemoryRegion2_FieldsSitAtTheirOffsets()
    {
        var r = new KvmUserspaceMemoryRegion2
        {
            Slot = 0x0001_0002, Flags = KvmMemFlags.GuestMemfd, GuestPhysAddr = 0x1122_3344_5566_7788, MemorySize = 0x20_0000,
            UserspaceAddr = 0x7F00_0000_0000, GuestMemfdOffset = 0x4000, GuestMemfd = 7,
        };
        var bytes = new byte[KvmUserspaceMemoryRegion2.SizeInBytes];
        r.WriteTo(bytes);
        Assert.Equal(160, bytes.Length);
        Assert.Equal(0x0001_0002u, BinaryPrimitives.ReadUInt32LittleEndian(bytes));
        Assert.Equal(4u, BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(4)));
        Assert.Equal(0x1122_3344_5566_7788UL, BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(8)));
        Assert.Equal(0x20_0000UL, BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(16)));
        Assert.Equal(0x7F00_0000_0000UL, BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(24)));
        Assert.Equal(0x4000UL, BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(32)));
        Assert.Equal(7, BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(40)));
        Assert.All(bytes[44..], b => Assert.Equal(0, b));
        Assert.Equal(r, KvmUserspaceMemoryRegion2.ReadFrom(bytes));
    }

    [Fact]
    public void PreFaultMemory_GpaSizeFlagsPadding()
    {
        var bytes = new byte[KvmPreFaultMemory.SizeInBytes];
        new KvmPreFaultMemory { Gpa = 0x1000, Size = 0x2000, Flags = 3, Padding0 = 4 }.WriteTo(bytes);
        Assert.Equal(64, bytes.Length);
        Assert.Equal([0x1000UL, 0x2000UL, 3UL, 4UL], Enumerable.Range(0, 4).Select(i => BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(i * 8))));
    }

    [Fact]
    public void Constants_MatchTheUapi()
    {
        Assert.Equal(8UL, (ulong)KvmMemoryAttributes.Private);
        Assert.Equal(8UL, (ulong)KvmMemoryExitFlags.Private);
        Assert.Equal(39u, (uint)KvmExitReason.MemoryFault);
        Assert.Equal(3u, (uint)KvmExitReason.Hypercall);
        Assert.Equal(0x1000UL, KvmLimits.ExitHypercallValidMask);
        Assert.Equal(2_147_483_647UL, KvmLimits.MemMaxNrPages); // 2^31 − 1
    }
}
