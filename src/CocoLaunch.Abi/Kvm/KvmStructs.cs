using System.Buffers.Binary;

namespace CocoLaunch.Abi.Kvm;

// The uAPI argument structs, field for field. They are mutable structs on purpose: several ioctls
// update their argument in place (pre-fault's gpa/size, convert's error_offset), exactly as the
// kernel copies the struct back to userspace. Each has its byte layout for tools that exchange raw
// ioctl arguments; offsets are derived, never typed twice.

/// <summary><c>struct kvm_userspace_memory_region</c> (32 bytes), for KVM_SET_USER_MEMORY_REGION.</summary>
public struct KvmUserspaceMemoryRegion
{
    public const int SizeInBytes = 32;

    public uint Slot;
    public KvmMemFlags Flags;
    public ulong GuestPhysAddr;
    public ulong MemorySize;
    public ulong UserspaceAddr;

    public readonly void WriteTo(Span<byte> b)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(b, Slot);
        BinaryPrimitives.WriteUInt32LittleEndian(b[4..], (uint)Flags);
        BinaryPrimitives.WriteUInt64LittleEndian(b[8..], GuestPhysAddr);
        BinaryPrimitives.WriteUInt64LittleEndian(b[16..], MemorySize);
        BinaryPrimitives.WriteUInt64LittleEndian(b[24..], UserspaceAddr);
    }

    public static KvmUserspaceMemoryRegion ReadFrom(ReadOnlySpan<byte> b) => new()
    {
        Slot = BinaryPrimitives.ReadUInt32LittleEndian(b),
        Flags = (KvmMemFlags)BinaryPrimitives.ReadUInt32LittleEndian(b[4..]),
        GuestPhysAddr = BinaryPrimitives.ReadUInt64LittleEndian(b[8..]),
        MemorySize = BinaryPrimitives.ReadUInt64LittleEndian(b[16..]),
        UserspaceAddr = BinaryPrimitives.ReadUInt64LittleEndian(b[24..]),
    };
}

/// <summary><c>struct kvm_userspace_memory_region2</c> (160 bytes), for KVM_SET_USER_MEMORY_REGION2.</summary>
public record struct KvmUserspaceMemoryRegion2
{
    public const int SizeInBytes = 160;
    private const int GuestMemfdOffsetAt = KvmUserspaceMemoryRegion.SizeInBytes;
    private const int GuestMemfdAt = GuestMemfdOffsetAt + 8;

    public uint Slot;
    public KvmMemFlags Flags;
    public ulong GuestPhysAddr;
    public ulong MemorySize;
    public ulong UserspaceAddr;
    public ulong GuestMemfdOffset;
    public int GuestMemfd;

    public readonly KvmUserspaceMemoryRegion V1 => new()
    {
        Slot = Slot,
        Flags = Flags,
        GuestPhysAddr = GuestPhysAddr,
        MemorySize = MemorySize,
        UserspaceAddr = UserspaceAddr,
    };

    public readonly void WriteTo(Span<byte> b)
    {
        b[..SizeInBytes].Clear();
        V1.WriteTo(b);
        BinaryPrimitives.WriteUInt64LittleEndian(b[GuestMemfdOffsetAt..], GuestMemfdOffset);
        BinaryPrimitives.WriteInt32LittleEndian(b[GuestMemfdAt..], GuestMemfd);
    }

    public static KvmUserspaceMemoryRegion2 ReadFrom(ReadOnlySpan<byte> b)
    {
        var v1 = KvmUserspaceMemoryRegion.ReadFrom(b);
        return new()
        {
            Slot = v1.Slot,
            Flags = v1.Flags,
            GuestPhysAddr = v1.GuestPhysAddr,
            MemorySize = v1.MemorySize,
            UserspaceAddr = v1.UserspaceAddr,
            GuestMemfdOffset = BinaryPrimitives.ReadUInt64LittleEndian(b[GuestMemfdOffsetAt..]),
            GuestMemfd = BinaryPrimitives.ReadInt32LittleEndian(b[GuestMemfdAt..]),
        };
    }
}

/// <summary><c>struct kvm_memory_attributes</c> (32 bytes), for KVM_SET_MEMORY_ATTRIBUTES.</summary>
public struct KvmMemoryAttributesArgs
{
    public const int SizeInBytes = 32;

    public ulong Address;
    public ulong Size;
    public KvmMemoryAttributes Attributes;
    public ulong Flags;

    public readonly void WriteTo(Span<byte> b)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(b, Address);
        BinaryPrimitives.WriteUInt64LittleEndian(b[8..], Size);
        BinaryPrimitives.WriteUInt64LittleEndian(b[16..], (ulong)Attributes);
        BinaryPrimitives.WriteUInt64LittleEndian(b[24..], Flags);
    }
}

/// <summary><c>struct kvm_msi</c> (32 bytes) for KVM_SIGNAL_MSI: an MSI write of <see cref="Data"/> to the 64-bit address.</summary>
public struct KvmMsi
{
    public const int SizeInBytes = 32;

    /// <summary>KVM_MSI_VALID_DEVID: <see cref="DevId"/> is meaningful (not on x86's APIC path).</summary>
    public const uint ValidDevId = 1;

    public uint AddressLo;
    public uint AddressHi;
    public uint Data;
    public uint Flags;
    public uint DevId;

    public readonly ulong Address => ((ulong)AddressHi << 32) | AddressLo;

    public readonly void WriteTo(Span<byte> b)
    {
        b[..SizeInBytes].Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(b, AddressLo);
        BinaryPrimitives.WriteUInt32LittleEndian(b[4..], AddressHi);
        BinaryPrimitives.WriteUInt32LittleEndian(b[8..], Data);
        BinaryPrimitives.WriteUInt32LittleEndian(b[12..], Flags);
        BinaryPrimitives.WriteUInt32LittleEndian(b[16..], DevId);
    }
}

/// <summary><c>struct kvm_create_guest_memfd</c> (64 bytes).</summary>
public struct KvmCreateGuestMemfd
{
    public const int SizeInBytes = 64;

    public ulong Size;
    public GuestMemfdFlags Flags;

    public readonly void WriteTo(Span<byte> b)
    {
        b[..SizeInBytes].Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(b, Size);
        BinaryPrimitives.WriteUInt64LittleEndian(b[8..], (ulong)Flags);
    }
}

/// <summary><c>struct kvm_pre_fault_memory</c> (64 bytes); gpa and size are updated in place.</summary>
public struct KvmPreFaultMemory
{
    public const int SizeInBytes = 64;

    public ulong Gpa;
    public ulong Size;
    public ulong Flags;

    /// <summary>padding[0]; the kernel does not check padding, and neither does the model.</summary>
    public ulong Padding0;

    public readonly void WriteTo(Span<byte> b)
    {
        b[..SizeInBytes].Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(b, Gpa);
        BinaryPrimitives.WriteUInt64LittleEndian(b[8..], Size);
        BinaryPrimitives.WriteUInt64LittleEndian(b[16..], Flags);
        BinaryPrimitives.WriteUInt64LittleEndian(b[24..], Padding0);
    }
}

/// <summary><c>struct kvm_gmem_convert</c> (64 bytes; RFC v2 in-place conversion); error_offset is written back on failure.</summary>
public struct KvmGmemConvert
{
    public const int SizeInBytes = 64;

    public ulong Offset;
    public ulong Size;
    public ulong ErrorOffset;
}

/// <summary>
/// <c>struct kvm_memory_attributes2</c> of the guest_memfd attributes series (v8, kvm-memory-model.md §11.2), issued on
/// the guest_memfd fd: offset and size in the file, the attributes (only PRIVATE), a content mode, and the offset
/// an error names.
/// </summary>
public struct KvmMemoryAttributes2
{
    /// <summary>offset @0, size @8, attributes @16, flags @24, error_offset @32, reserved u64[11] @40.</summary>
    public const int SizeInBytes = 128;

    /// <summary>Zero the pages on the way to shared.</summary>
    public const ulong FlagZero = 1UL << 0;

    /// <summary>Keep the contents (needs the architecture's support).</summary>
    public const ulong FlagPreserve = 1UL << 1;

    public ulong Offset;
    public ulong Size;
    public KvmMemoryAttributes Attributes;
    public ulong Flags;
    public ulong ErrorOffset;

    /// <summary>reserved[11]; must be zero. Null stands for all zeros.</summary>
    public ulong[]? Reserved;
}

/// <summary><c>struct kvm_enable_cap</c> (104 bytes).</summary>
public struct KvmEnableCap
{
    public const int SizeInBytes = 104;

    public KvmCap Cap;
    public uint Flags;
    public ulong Arg0;
    public ulong Arg1;
    public ulong Arg2;
    public ulong Arg3;
}
