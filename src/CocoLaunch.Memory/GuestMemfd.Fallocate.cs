using CocoLaunch.Abi.Kvm;

namespace CocoLaunch.Memory;

public sealed partial class GuestMemfd
{
    /// <summary>
    /// fallocate(2) as <c>kvm_gmem_fallocate</c> implements it: KEEP_SIZE is mandatory; allocate
    /// zero-fills pages, PUNCH_HOLE zaps mappings of the range in every bound VM and then frees it.
    /// </summary>
    /// <param name="cancel">Plays a pending signal: allocation stops with EINTR, keeping the pages done.</param>
    public void Fallocate(FallocateMode mode, ulong offset, ulong length, CancellationToken cancel = default)
    {
        if (!mode.HasFlag(FallocateMode.KeepSize))
        {
            throw new KvmException(Errno.EOPNOTSUPP, "guest_memfd fallocate requires FALLOC_FL_KEEP_SIZE");
        }

        if ((mode & ~(FallocateMode.KeepSize | FallocateMode.PunchHole)) != 0)
        {
            throw new KvmException(Errno.EOPNOTSUPP, $"guest_memfd fallocate does not support mode 0x{(int)mode:x}");
        }

        if (offset % Page != 0 || length % Page != 0)
        {
            throw new KvmException(Errno.EINVAL, $"fallocate range offset 0x{offset:x} length 0x{length:x} is not page aligned");
        }

        if (mode.HasFlag(FallocateMode.PunchHole))
        {
            PunchHole(offset, length);
        }
        else
        {
            Allocate(offset, length, cancel);
        }
    }

    private void PunchHole(ulong offset, ulong length)
    {
        if (offset >= Size)
        {
            return;
        }

        ulong first = offset / Page;
        ulong count = Math.Min(length, Size - offset) / Page;
        InvalidateLock.EnterWriteLock();
        try
        {
            InvalidateBound(first, count, privateOnly: false);
            Pages.RemoveRange(first, count);
        }
        finally
        {
            InvalidateLock.ExitWriteLock();
        }
    }

    private void Allocate(ulong offset, ulong length, CancellationToken cancel)
    {
        if (offset > Size || length > Size - offset)
        {
            throw new KvmException(Errno.EINVAL, $"fallocate range [0x{offset:x},0x{offset + length:x}) extends past the 0x{Size:x}-byte file");
        }

        InvalidateLock.EnterReadLock();
        try
        {
            for (ulong page = offset / Page; page < (offset + length) / Page; page++)
            {
                if (cancel.IsCancellationRequested)
                {
                    throw new KvmException(Errno.EINTR, "fallocate interrupted; pages allocated so far are kept");
                }

                Pages.Allocate(page);
            }
        }
        catch (HostMemoryLimitException e)
        {
            // As an interrupted fallocate, the pages allocated so far are kept.
            throw new KvmException(Errno.ENOMEM, e.Message);
        }
        finally
        {
            InvalidateLock.ExitReadLock();
        }
    }
}
