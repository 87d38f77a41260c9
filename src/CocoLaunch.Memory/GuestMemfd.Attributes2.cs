using CocoLaunch.Abi.Kvm;

namespace CocoLaunch.Memory;

/// <summary>
/// What KVM_SET_MEMORY_ATTRIBUTES2 needs of the VM that owns a guest_memfd (gmem-attributes2-v8): whether the VM has
/// private memory at all, and whether its architecture keeps contents across a conversion (PRESERVE).
/// </summary>
public sealed record GmemAttributes2Support(bool OwnerHasPrivateMemory, bool PreserveSupported);

public sealed partial class GuestMemfd
{
    /// <summary>Set when the series is enabled (vm_memory_attributes=0): the file then takes KVM_SET_MEMORY_ATTRIBUTES2.</summary>
    public GmemAttributes2Support? Attributes2 { get; private init; }

    /// <summary>
    /// KVM_SET_MEMORY_ATTRIBUTES2 on the guest_memfd fd (kvm-memory-model.md §11.2): converts [offset, offset + size)
    /// to private or shared as a whole or not at all, applying the content mode (ZERO, PRESERVE) to the allocated
    /// pages of the whole range. error_offset is written back on every error that names one.
    /// </summary>
    public void SetMemoryAttributes2(ref KvmMemoryAttributes2 args)
    {
        var support = Attributes2 ?? throw new KvmException(Errno.ENOTTY, "KVM_SET_MEMORY_ATTRIBUTES2 needs the guest_memfd attributes series (vm_memory_attributes=0)");
        const ulong modes = KvmMemoryAttributes2.FlagZero | KvmMemoryAttributes2.FlagPreserve;
        if ((args.Flags & ~modes) != 0 || args.Flags == modes)
        {
            throw new KvmException(Errno.EINVAL, $"flags 0x{args.Flags:x}: only one of ZERO (1) and PRESERVE (2)");
        }

        if (args.ErrorOffset != 0 || (args.Reserved is { } reserved && reserved.Any(r => r != 0)))
        {
            throw new KvmException(Errno.EINVAL, "error_offset and reserved must be 0 on input");
        }

        if (!support.OwnerHasPrivateMemory)
        {
            throw new KvmException(Errno.EINVAL, "the guest_memfd's VM has no private memory");
        }

        if ((args.Attributes & ~KvmMemoryAttributes.Private) != 0)
        {
            throw new KvmException(Errno.EINVAL, $"attributes 0x{(ulong)args.Attributes:x}: only PRIVATE (0x8)");
        }

        if (args.Size == 0 || args.Offset + args.Size < args.Offset || args.Offset % Page != 0 || args.Size % Page != 0 || args.Offset >= Size || args.Offset + args.Size > Size)
        {
            throw new KvmException(Errno.EINVAL, $"range [0x{args.Offset:x},+0x{args.Size:x}) is empty, wraps, is not page aligned or exceeds the 0x{Size:x}-byte file");
        }

        bool toPrivate = args.Attributes == KvmMemoryAttributes.Private;
        if ((args.Flags == KvmMemoryAttributes2.FlagZero && toPrivate) || (args.Flags == KvmMemoryAttributes2.FlagPreserve && !support.PreserveSupported))
        {
            args.ErrorOffset = args.Offset;
            throw new KvmException(Errno.EOPNOTSUPP, args.Flags == KvmMemoryAttributes2.FlagZero ? "ZERO applies only to a conversion to shared" : "PRESERVE is not supported for this VM");
        }

        ulong first = args.Offset / Page, count = args.Size / Page;
        InvalidateLock.EnterWriteLock();
        try
        {
            var changing = Shareability.Snapshot.Runs(first, first + count).Where(r => r.Value == toPrivate).ToList();
            if (toPrivate)
            {
                if (FirstPinned(changing) is { } pinned)
                {
                    args.ErrorOffset = pinned * Page;
                    throw new KvmException(Errno.EAGAIN, $"guest_memfd page {pinned} is still referenced by the host");
                }
            }

            // Nothing can fail from here on: invalidate, apply the content mode, store the new state.
            ulong mode = args.Flags;
            WhileInvalidating(() =>
            {
                foreach (var (start, end, _) in changing)
                {
                    InvalidateBound(start, end - start, privateOnly: false);
                }

                if (mode == KvmMemoryAttributes2.FlagZero)
                {
                    for (ulong page = first; page < first + count; page++)
                    {
                        if (Pages.Contains(page))
                        {
                            Pages.Write(page * Page, new byte[Page]);
                        }
                    }
                }

                foreach (var (start, end, _) in changing)
                {
                    Shareability.Set(start, end - start, !toPrivate);
                }
            });
        }
        finally
        {
            InvalidateLock.ExitWriteLock();
        }
    }
}
